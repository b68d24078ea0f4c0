// SPDX-License-Identifier: Apache-2.0
// SA_HD marks per-element math written once for both backends (the headers beside this one): a
// __host__ __device__ function under nvcc, a plain inline function in the C++ build.
#pragma once

#ifdef __CUDACC__
#define SA_HD __host__ __device__ __forceinline__
#else
#define SA_HD inline
#endif
