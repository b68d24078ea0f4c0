// SPDX-License-Identifier: Apache-2.0
// Owners of backend memory for the models and the base-class op fallbacks, so that every buffer is
// freed on every path, also when a constructor throws half-way (e.g. on a weight-shape error).
#pragma once

#include <cstdint>
#include <vector>

#include "sa/backend.h"

namespace sa {

// Backend buffers freed together: a model's device weights or workspaces.
class DeviceBuffers {
  public:
    explicit DeviceBuffers(Backend & be) : be_(be) {}
    ~DeviceBuffers() { release(); }
    DeviceBuffers(const DeviceBuffers &) = delete;
    DeviceBuffers & operator=(const DeviceBuffers &) = delete;
    float * alloc(int64_t n) {
        ptrs_.reserve(ptrs_.size() + 1);  // so that push_back cannot throw and leak the new buffer
        float * p = be_.alloc((size_t) n);
        ptrs_.push_back(p);
        return p;
    }
    void release() {
        for (float * p : ptrs_) be_.free(p);
        ptrs_.clear();
    }
    // Uploads a linear layer's host weight W [N, K] into `staging` and stores it here prepared for
    // Backend::linear_prepared. The upload may still be in flight: synchronize the backend before
    // `staging` or the host values go away.
    float * add_prepared_linear(DeviceBuffers & staging, const float * host, int64_t N, int64_t K) {
        float * raw = staging.alloc(N * K);
        be_.upload(raw, host, (size_t) (N * K));
        float * prepared = alloc((int64_t) be_.prepared_linear_size(N, K));
        be_.prepare_linear(raw, prepared, N, K);
        return prepared;
    }

  private:
    Backend & be_;
    std::vector<float *> ptrs_;
};

// One temporary backend buffer, freed at the end of its scope.
class TempBuffer {
  public:
    TempBuffer(Backend & be, int64_t n) : be_(be), p_(be.alloc((size_t) n)) {}
    ~TempBuffer() { be_.free(p_); }
    TempBuffer(const TempBuffer &) = delete;
    TempBuffer & operator=(const TempBuffer &) = delete;
    float * get() const { return p_; }

  private:
    Backend & be_;
    float * p_;
};

}  // namespace sa
