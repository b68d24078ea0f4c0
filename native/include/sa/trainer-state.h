// SPDX-License-Identifier: Apache-2.0
// The optimiser state a trainer keeps (DecoderTrainer, HeadTrainer): per parameter the gradient of the
// last loss and the two Adam moments, in flat backend buffers with one [offset, offset + numel) range
// per parameter, and the step count; read and restored by name for checkpoints, resume and tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "sa/backend.h"

namespace sa {

class TrainerState {
  public:
    virtual ~TrainerState() = default;

    // Gradient of the last loss_and_grad for a parameter (zeros when it has no gradient path). A step
    // clears the gradients once the optimiser has used them.
    void get_grad(const std::string & name, float * host) const;
    // Optimiser state for checkpoints and resume.
    int64_t step_count() const;
    void set_step_count(int64_t t);
    void get_state(const std::string & name, float * m_host, float * v_host) const;
    void set_state(const std::string & name, const float * m_host, const float * v_host);

  protected:
    // The trainer's buffers and step count, set by the trainer once they exist (they live as long as it).
    struct Buffers {
        Backend * be = nullptr;
        float *grads = nullptr, *m = nullptr, *v = nullptr;
        int64_t * t = nullptr;
    };
    // A parameter's range in the buffers: {offset, numel} (SA_ERR_INVALID_ARG for an unknown name).
    virtual std::pair<int64_t, int64_t> param_range(const std::string & name) const = 0;

    Buffers state_;
};

}  // namespace sa
