import { type FileHandle, open } from "node:fs/promises";
import { CheckpointError } from "./errors.js";

/**
 * Random-access bytes: a file read piece by piece (so that checkpoints larger than the 2 GiB
 * `readFile` limit load, and only what is needed sits in memory) or an in-memory buffer.
 */
export interface ByteSource {
    /** File name or label, used in error messages. */
    readonly name: string;
    /** Total size in bytes. */
    readonly size: number;
    /**
     * Reads `length` bytes at `position` into a new, unshared, 8-byte-aligned array. Throws
     * `ERR_SA_CHECKPOINT_TRUNCATED` when the range goes past the end.
     */
    read(position: number, length: number, what: string): Promise<Uint8Array>;
    /** Releases the file handle, if any. */
    close(): Promise<void>;
}

function checkRange(name: string, size: number, position: number, length: number, what: string): void {
    if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0) {
        throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", name, `invalid byte range for ${what}`);
    }
    if (position + length > size) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_TRUNCATED",
            name,
            `${what} needs bytes ${position}..${position + length} but the file has ${size} bytes (truncated?)`,
        );
    }
}

/** A {@link ByteSource} over bytes already in memory. */
export function bytesSource(bytes: Uint8Array, name: string): ByteSource {
    return {
        name,
        size: bytes.byteLength,
        async read(position, length, what) {
            checkRange(name, bytes.byteLength, position, length, what);
            return bytes.slice(position, position + length);
        },
        async close() {},
    };
}

/** Translates a Node file-system error into a {@link CheckpointError} naming the file. */
export function fsError(file: string, err: unknown): CheckpointError {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === "ENOENT" || code === "ENOTDIR") {
        return new CheckpointError("ERR_SA_CHECKPOINT_NOT_FOUND", file, "no such file", { cause: err });
    }
    if (code === "EISDIR")
        return new CheckpointError("ERR_SA_CHECKPOINT_IO", file, "is a directory, not a checkpoint file", {
            cause: err,
        });
    const detail = err instanceof Error ? err.message : String(err);
    return new CheckpointError("ERR_SA_CHECKPOINT_IO", file, `cannot read: ${detail}`, { cause: err });
}

/** Opens a file as a {@link ByteSource}; a missing file gives `ERR_SA_CHECKPOINT_NOT_FOUND`. */
export async function openFileSource(file: string): Promise<ByteSource> {
    let handle: FileHandle;
    let size: number;
    try {
        handle = await open(file, "r");
    } catch (err) {
        throw fsError(file, err);
    }
    try {
        const st = await handle.stat();
        if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
        size = st.size;
    } catch (err) {
        await handle.close();
        throw fsError(file, err);
    }
    return {
        name: file,
        size,
        async read(position, length, what) {
            checkRange(file, size, position, length, what);
            const out = new Uint8Array(length);
            let done = 0;
            try {
                while (done < length) {
                    const chunk = Math.min(length - done, 1 << 30);
                    const { bytesRead } = await handle.read(out, done, chunk, position + done);
                    if (bytesRead === 0) {
                        throw new CheckpointError(
                            "ERR_SA_CHECKPOINT_TRUNCATED",
                            file,
                            `the file ended while reading ${what} (it changed while being read?)`,
                        );
                    }
                    done += bytesRead;
                }
            } catch (err) {
                if (err instanceof CheckpointError) throw err;
                throw fsError(file, err);
            }
            return out;
        },
        async close() {
            await handle.close();
        },
    };
}

/** Runs `fn` with a file source and always closes it. */
export async function withFileSource<T>(file: string, fn: (src: ByteSource) => Promise<T>): Promise<T> {
    const src = await openFileSource(file);
    try {
        return await fn(src);
    } finally {
        await src.close();
    }
}
