// SPDX-License-Identifier: Apache-2.0
// mapFile(path, offset, length): a copy-on-write memory mapping of a file region as an ArrayBuffer
// (the embedding cache reads fp16 embeddings straight from the page cache). Writes through the
// ArrayBuffer never reach the file (MAP_PRIVATE). The mapping is released by the ArrayBuffer's finalizer.
// halfToFloat / floatToHalf: the cache's fp16 <-> fp32 conversions of whole arrays.
#include <fcntl.h>
#include <napi.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "napi-util.h"
#include "sa/half.h"

namespace saaddon {

namespace {
struct Mapping {
    void * base;
    size_t length;
};
}  // namespace

Napi::Value map_file(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    SA_THROW_TYPEERROR_IF(info.Length() < 1 || !info[0].IsString(), env,
                          "mapFile(path, offset?, length?): path must be a string");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    int64_t offset = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int64Value() : 0;
    int64_t length = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : -1;
    SA_THROW_RANGEERROR_IF(offset < 0, env, "mapFile: offset must be >= 0");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_coded(env, "ERR_SA_IO", path + ": cannot open for mapping: " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        int err = errno;
        ::close(fd);
        throw_coded(env, "ERR_SA_IO", path + ": fstat failed: " + std::strerror(err));
    }
    const int64_t size = (int64_t) st.st_size;
    if (length < 0) length = size - offset;
    if (offset + length > size) {
        ::close(fd);
        throw_coded(env, "ERR_SA_IO",
                    path + ": region [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                        ") is past the end of the file (" + std::to_string(size) + " bytes)");
    }
    if (length == 0) {
        ::close(fd);
        return Napi::ArrayBuffer::New(env, 0);
    }
    const int64_t page = ::sysconf(_SC_PAGESIZE);
    const int64_t aligned = offset / page * page;
    const size_t map_len = (size_t) (length + (offset - aligned));
    void * base = ::mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t) aligned);
    int err = errno;
    ::close(fd);
    if (base == MAP_FAILED) throw_coded(env, "ERR_SA_IO", path + ": mmap failed: " + std::strerror(err));
    auto * m = new Mapping{base, map_len};
    char * data = static_cast<char *>(base) + (offset - aligned);
    return Napi::ArrayBuffer::New(
        env, data, (size_t) length,
        [](Napi::Env, void *, Mapping * mp) {
            ::munmap(mp->base, mp->length);
            delete mp;
        },
        m);
}

// halfToFloat(src: Uint16Array, dst?: Float32Array): widens binary16 values (exact), e.g. embeddings
// read from the fp16 cache. dst, when given, must have src.length elements.
Napi::Value half_to_float(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    bool ok = info.Length() >= 1 && info[0].IsTypedArray() &&
              info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
    SA_THROW_TYPEERROR_IF(!ok, env, "halfToFloat(src, dst?): src must be a Uint16Array");
    Napi::Uint16Array src = info[0].As<Napi::Uint16Array>();
    const size_t n = src.ElementLength();
    Napi::Float32Array dst;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
        dst = arg_f32(info, 1, "halfToFloat(src, dst)");
        SA_THROW_RANGEERROR_IF(dst.ElementLength() != n, env, "halfToFloat: dst must have as many elements as src");
    } else {
        dst = Napi::Float32Array::New(env, n);
    }
    sa::half_to_float(src.Data(), dst.Data(), (int64_t) n);
    return dst;
}

// floatToHalf(src: Float32Array, dst?: Uint16Array): the half-precision bits of src (round to nearest
// even), into dst or a new array.
Napi::Value float_to_half(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    Napi::Float32Array src = arg_f32(info, 0, "floatToHalf(src, dst?)");
    const size_t n = src.ElementLength();
    Napi::Uint16Array dst;
    if (info.Length() >= 2 && !info[1].IsUndefined()) {
        const bool ok = info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
        SA_THROW_TYPEERROR_IF(!ok, env, "floatToHalf(src, dst): dst must be a Uint16Array");
        dst = info[1].As<Napi::Uint16Array>();
        SA_THROW_RANGEERROR_IF(dst.ElementLength() != n, env, "floatToHalf: dst must have as many elements as src");
    } else {
        dst = Napi::Uint16Array::New(env, n);
    }
    sa::float_to_half(src.Data(), dst.Data(), (int64_t) n);
    return dst;
}

}  // namespace saaddon
