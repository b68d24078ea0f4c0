// SPDX-License-Identifier: Apache-2.0
// Named host tensors handed to a model constructor (from the JS checkpoint readers or the C++ tests).
// Models look their weights up by the official PyTorch key names and copy them to their backend, so
// the caller's buffers can be released after construction.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sa {

struct WeightView {
    std::vector<int64_t> shape;
    const float * data = nullptr;  // borrowed, host memory, float32
    int64_t numel() const {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};

class WeightMap {
  public:
    void add(const std::string & name, WeightView v) { m_[name] = std::move(v); }
    bool has(const std::string & name) const { return m_.count(name) != 0; }
    const std::map<std::string, WeightView> & all() const { return m_; }

    // Returns the weight, checking its shape (empty expected shape: any shape). Records a missing key
    // or a wrong shape instead of throwing, so that a model can report every problem at once; call
    // check() after looking everything up.
    const WeightView * get(const std::string & name, const std::vector<int64_t> & expected_shape);
    // Optional weight: nullptr when absent (no error recorded); shape checked when present.
    const WeightView * get_optional(const std::string & name, const std::vector<int64_t> & expected_shape);

    // Keys under `prefix` that no get() asked for.
    std::vector<std::string> unused(const std::string & prefix) const;

    // Throws sa::Error(SA_ERR_WEIGHTS) listing missing keys and unexpected keys under `prefix`, or
    // sa::Error(SA_ERR_SHAPE) listing wrong shapes. `what` names the model part ("image encoder").
    void check(const std::string & prefix, const std::string & what) const;

  private:
    std::map<std::string, WeightView> m_;
    std::set<std::string> used_;
    std::vector<std::string> missing_;
    std::vector<std::string> bad_shapes_;
};

std::string shape_str(const std::vector<int64_t> & shape);

}  // namespace sa
