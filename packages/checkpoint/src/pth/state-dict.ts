// Finding the state dict inside what a .pth unpickles to: the top level, or the usual nesting of
// training checkpoints ({"model": ...}, {"state_dict": ...}, ...).
import { CheckpointError, quoted } from "../errors.js";
import { PyGlobal, type PyValue, pyTypeName, StorageRef, TensorRef } from "../pickle/values.js";

/** Keys under which training checkpoints commonly keep their weights, in order of preference. */
export const STATE_DICT_KEYS: readonly string[] = [
    "state_dict",
    "model_state_dict",
    "model",
    "module",
    "net",
    "network",
    "params",
    "weights",
];

/** True when `v` is a non-empty dict of string keys to tensors. */
export function isStateDict(v: PyValue | undefined): v is Map<string, TensorRef> {
    if (!(v instanceof Map) || v.size === 0) return false;
    for (const [k, t] of v) if (typeof k !== "string" || !(t instanceof TensorRef)) return false;
    return true;
}

/** Where the state dict was found: its key path from the top level (empty for the top level). */
export interface LocatedStateDict {
    path: string[];
    dict: Map<string, TensorRef>;
}

function describeTop(root: PyValue): string {
    if (!(root instanceof Map)) return `the checkpoint holds a ${pyTypeName(root)}`;
    const keys = [...root.keys()].slice(0, 12).map((k) => (typeof k === "string" ? JSON.stringify(k) : String(k)));
    return `top-level keys: ${keys.join(", ")}${root.size > 12 ? ", ..." : ""}`;
}

/**
 * Locates the state dict: `path` when given; else the top level when it is one; else the first of
 * {@link STATE_DICT_KEYS} (searched recursively) that holds one; else the only top-level entry
 * that is one. An empty top-level dict is an empty state dict.
 */
export function locateStateDict(root: PyValue, file: string, path?: readonly string[]): LocatedStateDict {
    if (path !== undefined) {
        let v: PyValue | undefined = root;
        for (const key of path) v = v instanceof Map ? v.get(key) : undefined;
        if (!isStateDict(v) && !(v instanceof Map && v.size === 0)) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `no state dict (a dict of tensors) at ${quoted(path)}; ${describeTop(root)}`,
            );
        }
        return { path: [...path], dict: v as Map<string, TensorRef> };
    }
    if (root instanceof Map && root.size === 0) return { path: [], dict: new Map() };
    const search = (v: PyValue, at: string[], depth: number): LocatedStateDict | undefined => {
        if (isStateDict(v)) return { path: at, dict: v };
        if (!(v instanceof Map) || depth > 3) return undefined;
        for (const key of STATE_DICT_KEYS) {
            const child = v.get(key);
            if (child !== undefined) {
                const found = search(child, [...at, key], depth + 1);
                if (found) return found;
            }
        }
        return undefined;
    };
    const found = search(root, [], 0);
    if (found) return found;
    if (root instanceof Map) {
        const candidates = [...root].filter(([k, v]) => typeof k === "string" && isStateDict(v));
        if (candidates.length === 1) {
            const [key, dict] = candidates[0] as [string, Map<string, TensorRef>];
            return { path: [key], dict };
        }
        if (candidates.length > 1) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `several entries hold state dicts (${candidates.map(([k]) => JSON.stringify(k)).join(", ")}); choose one with stateDictPath`,
            );
        }
    }
    throw new CheckpointError(
        "ERR_SA_CHECKPOINT_FORMAT",
        file,
        `no state dict (a dict of parameter names to tensors) found; ${describeTop(root)}`,
    );
}

/** Every tensor and storage reference reachable from `v`, for materialisation. */
export function collectRefs(v: PyValue, out: Set<TensorRef | StorageRef>, seen = new Set<object>()): void {
    if (v === null || typeof v !== "object") return;
    if (seen.has(v)) return;
    seen.add(v);
    if (v instanceof TensorRef || v instanceof StorageRef) {
        out.add(v);
        return;
    }
    if (Array.isArray(v) || v instanceof Set) for (const x of v) collectRefs(x, out, seen);
    else if (v instanceof Map) {
        for (const [k, x] of v) {
            collectRefs(k, out, seen);
            collectRefs(x, out, seen);
        }
    }
}

/**
 * Converts an unpickled value to plain JavaScript for callers: dicts with string keys become plain
 * objects (other dicts stay Maps), tuples and lists arrays, tensors the materialised tensors given
 * by `tensorOf`, globals (e.g. `torch.float16`) their dotted names.
 */
export function toPlain(
    v: PyValue,
    tensorOf: (ref: TensorRef | StorageRef) => unknown,
    memo: Map<object, unknown> = new Map(),
): unknown {
    if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
    if (v instanceof TensorRef || v instanceof StorageRef) return tensorOf(v);
    if (v instanceof PyGlobal) return v.path;
    // A pickle's memo can share one container many times (or make it hold itself): each is
    // converted once, so shared structure stays shared instead of growing exponentially.
    const done = memo.get(v);
    if (done !== undefined) return done;
    if (Array.isArray(v)) {
        const out: unknown[] = [];
        memo.set(v, out);
        for (const x of v) out.push(toPlain(x, tensorOf, memo));
        return out;
    }
    if (v instanceof Set) {
        const out = new Set<unknown>();
        memo.set(v, out);
        for (const x of v) out.add(toPlain(x, tensorOf, memo));
        return out;
    }
    if (v instanceof Map) {
        if ([...v.keys()].every((k) => typeof k === "string")) {
            const out: Record<string, unknown> = {};
            memo.set(v, out);
            for (const [k, x] of v) {
                Object.defineProperty(out, k as string, {
                    value: toPlain(x, tensorOf, memo),
                    enumerable: true,
                    writable: true,
                    configurable: true,
                });
            }
            return out;
        }
        const out = new Map<unknown, unknown>();
        memo.set(v, out);
        for (const [k, x] of v) out.set(toPlain(k, tensorOf, memo), toPlain(x, tensorOf, memo));
        return out;
    }
    return v;
}
