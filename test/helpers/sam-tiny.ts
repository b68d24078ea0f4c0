// The sam-tiny fixture as the native tests use it: golden tensors by key, its weights and subsets of them.
import { readCheckpoint, stateDictToFloat32Record } from "@sam-ablate/checkpoint";
import type { NativeWeights } from "@sam-ablate/native";
import { fixturePath, loadGolden } from "./fixtures.js";

const golden = loadGolden("sam-tiny");

/** A golden tensor's data; throws when the fixture lacks it. */
export function goldenData(key: string): Float32Array {
    const t = golden.get(key);
    if (!t) throw new Error(`golden tensor ${key} missing`);
    return t.data;
}

/** Every weight of sam_tiny.safetensors as float32. */
export async function samTinyWeights(): Promise<NativeWeights> {
    return stateDictToFloat32Record((await readCheckpoint(fixturePath("sam-tiny", "sam_tiny.safetensors"))).tensors);
}

/** The weights whose keys start with one of `prefixes`. */
export function pickWeights(weights: NativeWeights, prefixes: string[]): NativeWeights {
    return Object.fromEntries(Object.entries(weights).filter(([k]) => prefixes.some((p) => k.startsWith(p))));
}

/** Bytes of float32 data in a weight set (what a native model reports it copied). */
export function weightBytes(w: NativeWeights): number {
    return Object.values(w).reduce((a, t) => a + 4 * t.data.length, 0);
}
