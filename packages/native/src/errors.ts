/** An Error raised by the native core, with its `code` (ERR_SA_WEIGHTS, ERR_SA_SHAPE, ...). */
export interface NativeError extends Error {
    code: string;
}

/** True for errors that carry a string `code` (native errors and our typed TS errors). */
export function isNativeError(e: unknown): e is NativeError {
    return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

/**
 * Re-wraps a native error so that the JS stack of the caller survives (the native rejection has
 * no useful stack): `await enc.encode(x).catch(nativeError(new Error()))`.
 */
export function nativeError(context: Error): (e: unknown) => never {
    return (e: unknown) => {
        if (isNativeError(e)) {
            context.message = e.message;
            (context as NativeError).code = e.code;
            context.name = e.name;
        } else {
            context.message = String(e);
        }
        throw context;
    };
}
