// SPDX-License-Identifier: Apache-2.0
#include "sa/weights.h"

#include "sa/status.h"

namespace sa {

std::string shape_str(const std::vector<int64_t> & shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

const WeightView * WeightMap::get_optional(const std::string & name, const std::vector<int64_t> & expected) {
    auto it = m_.find(name);
    if (it == m_.end()) return nullptr;
    used_.insert(name);
    if (!expected.empty() && it->second.shape != expected) {
        bad_shapes_.push_back(name + ": expected " + shape_str(expected) + ", got " + shape_str(it->second.shape));
        return nullptr;
    }
    return &it->second;
}

const WeightView * WeightMap::get(const std::string & name, const std::vector<int64_t> & expected) {
    if (!has(name)) {
        missing_.push_back(name);
        return nullptr;
    }
    return get_optional(name, expected);
}

std::vector<std::string> WeightMap::unused(const std::string & prefix) const {
    std::vector<std::string> out;
    for (auto & kv : m_) {
        if (kv.first.compare(0, prefix.size(), prefix) == 0 && !used_.count(kv.first)) out.push_back(kv.first);
    }
    return out;
}

static std::string join_list(const std::vector<std::string> & v, size_t max_items = 20) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < max_items; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > max_items) s += ", ... (" + std::to_string(v.size() - max_items) + " more)";
    return s;
}

void WeightMap::check(const std::string & prefix, const std::string & what) const {
    if (!bad_shapes_.empty()) {
        fail(SA_ERR_SHAPE, what + ": weights do not fit the architecture: " + join_list(bad_shapes_));
    }
    auto extra = unused(prefix);
    if (!missing_.empty() || !extra.empty()) {
        std::string msg = what + ":";
        if (!missing_.empty()) msg += " missing keys: " + join_list(missing_) + ";";
        if (!extra.empty()) msg += " unexpected keys: " + join_list(extra) + ";";
        msg.pop_back();
        fail(SA_ERR_WEIGHTS, msg);
    }
}

}  // namespace sa
