// SPDX-License-Identifier: Apache-2.0
// CUDA-graph capture of a sequence of CUDA-backend ops (e.g. the mask decoder's forward + backward
// pass), replayed later with one launch instead of hundreds. Plain C++ (no CUDA types): usable from
// the addon, tests and benchmarks of builds with SA_USE_CUDA.
//
// Usage (a training step):
//
//   sa::CudaGraph graph(backend);                  // backend: a CUDA backend
//   // Allocate the step's inputs (embedding, prompts, target) and the parameter/gradient buffers
//   // BEFORE capturing: the graph records raw pointers.
//   graph.capture([&] { step_forward_backward(); }); // records the ops; nothing runs yet
//   for (t = 1 .. T) {
//       backend.upload(inputs, ...);                 // refresh the inputs in place (outside the graph)
//       graph.replay();                              // fill(grads, 0), forward, loss, backward
//       backend.adam_step(params, grads, m, v, n, lr, ..., t);   // t changes every step: not captured
//   }
//   backend.download(&loss, loss_dev, 1);           // the only host sync, when the caller wants it
//
// Rules for the captured work: no upload / download / synchronize (they throw and abort the capture),
// no host decisions that depend on device values, and the same shapes on every replay. Temporaries
// the work allocates and frees come from a private memory pool that stays reserved for the graph
// (replays reuse exactly those addresses); buffers it allocates and keeps must stay alive as long as
// the graph is replayed. Values a kernel takes by value (scalars like Adam's step t or the learning
// rate) are frozen at capture time; capture again after changing them (capture() reuses the pool and
// updates the instantiated graph in place when the topology is unchanged).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "sa/backend.h"

namespace sa {

class CudaGraph {
  public:
    // Throws sa::Error(SA_ERR_INVALID_ARG) when `be` is not a CUDA backend.
    explicit CudaGraph(Backend & be);
    ~CudaGraph();
    CudaGraph(const CudaGraph &) = delete;
    CudaGraph & operator=(const CudaGraph &) = delete;

    // Records every op `work` issues on the backend (it does not execute them) and instantiates the
    // graph. Throws sa::Error when the work fails or does something a capture cannot record; the
    // previous graph, if any, stays usable then.
    void capture(const std::function<void()> & work);
    // Enqueues one execution of the captured work on the backend's stream (asynchronous).
    void replay();
    bool ready() const;
    // Number of nodes (kernels, memsets, copies) in the captured graph.
    size_t node_count() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sa
