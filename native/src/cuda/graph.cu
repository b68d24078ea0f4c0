// SPDX-License-Identifier: Apache-2.0
// CUDA-graph capture and replay of CUDA-backend work (see graph.h).
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/graph.h"

namespace sa {

struct CudaGraph::Impl {
    CudaBackend * be = nullptr;
    int pool = 0;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    size_t nodes = 0;
};

CudaGraph::CudaGraph(Backend & be) : impl_(std::make_unique<Impl>()) {
    impl_->be = &as_cuda(be, "CudaGraph");
    impl_->pool = impl_->be->allocator().create_pool();
}

CudaGraph::~CudaGraph() {
    CudaBackend & be = *impl_->be;
    cudaSetDevice(be.device());
    cudaStreamSynchronize(be.stream());  // a replay in flight still uses the pool's memory
    if (impl_->exec) cudaGraphExecDestroy(impl_->exec);
    if (impl_->graph) cudaGraphDestroy(impl_->graph);
    cudaGetLastError();
    be.allocator().destroy_pool(impl_->pool);
}

void CudaGraph::capture(const std::function<void()> & work) {
    CudaBackend & be = *impl_->be;
    be.synchronize();  // surface earlier asynchronous errors outside the capture
    cuda::CachingAllocator & alloc = be.allocator();
    SA_CHECK(alloc.active_pool() == 0, SA_ERR_INVALID_ARG, "CudaGraph::capture: another capture is in progress");
    // Relaxed mode: the allocator may still call cudaMalloc while capturing (new pool blocks).
    SA_CUDA_CHECK(cudaStreamBeginCapture(be.stream(), cudaStreamCaptureModeRelaxed));
    alloc.set_active_pool(impl_->pool);
    cudaGraph_t g = nullptr;
    try {
        work();
    } catch (...) {
        alloc.set_active_pool(0);
        cudaStreamEndCapture(be.stream(), &g);
        if (g) cudaGraphDestroy(g);
        cudaGetLastError();
        throw;
    }
    alloc.set_active_pool(0);
    const cudaError_t end = cudaStreamEndCapture(be.stream(), &g);
    if (end != cudaSuccess || g == nullptr) {
        if (g) cudaGraphDestroy(g);
        cuda::throw_cuda_error(end != cudaSuccess ? end : cudaErrorStreamCaptureInvalidated,
                               "cudaStreamEndCapture (the captured work used an operation a graph cannot record)",
                               __FILE__, __LINE__);
    }
    size_t nodes = 0;
    cudaGraphGetNodes(g, nullptr, &nodes);
    if (impl_->exec) {
        cudaGraphExecUpdateResultInfo info{};
        if (cudaGraphExecUpdate(impl_->exec, g, &info) == cudaSuccess) {
            if (impl_->graph) cudaGraphDestroy(impl_->graph);
            impl_->graph = g;
            impl_->nodes = nodes;
            return;
        }
        cudaGetLastError();
        cudaGraphExecDestroy(impl_->exec);
        impl_->exec = nullptr;
    }
    cudaGraphExec_t exec = nullptr;
    const cudaError_t inst = cudaGraphInstantiateWithFlags(&exec, g, 0);
    if (inst != cudaSuccess) {
        cudaGraphDestroy(g);
        cuda::throw_cuda_error(inst, "cudaGraphInstantiateWithFlags", __FILE__, __LINE__);
    }
    if (impl_->graph) cudaGraphDestroy(impl_->graph);
    impl_->graph = g;
    impl_->exec = exec;
    impl_->nodes = nodes;
}

void CudaGraph::replay() {
    SA_CHECK(impl_->exec != nullptr, SA_ERR_INVALID_ARG, "CudaGraph::replay: nothing captured");
    CudaBackend & be = *impl_->be;
    be.activate();
    SA_CUDA_CHECK(cudaGraphLaunch(impl_->exec, be.stream()));
}

bool CudaGraph::ready() const {
    return impl_->exec != nullptr;
}

size_t CudaGraph::node_count() const {
    return impl_->nodes;
}

}  // namespace sa
