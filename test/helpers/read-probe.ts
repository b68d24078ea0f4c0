// Reads one file with one of the project's readers and prints one JSON line: {"ok":true} or
// {"code":..., "message":...}. Run in a child process by the hostile-input tests (with
// rss-at-exit.mjs preloaded), so a reader that over-allocates shows in the child's peak RSS.
import { readCheckpoint, readPthFile, readSafetensorsFile } from "@sam-ablate/checkpoint";
import { readNifti } from "@sam-ablate/data";
import { readImage } from "@sam-ablate/image-io";

const [reader, file] = process.argv.slice(2) as [string, string];
const readers: Record<string, (f: string) => Promise<unknown>> = {
    pth: (f) => readPthFile(f),
    safetensors: (f) => readSafetensorsFile(f),
    checkpoint: (f) => readCheckpoint(f),
    nifti: (f) => readNifti(f),
    image: (f) => readImage(f),
};
try {
    const read = readers[reader];
    if (!read) throw new Error(`read-probe: no reader ${reader}`);
    await read(file);
    console.log(JSON.stringify({ ok: true }));
} catch (err) {
    const e = err as { code?: string; message?: string };
    console.log(JSON.stringify({ code: e.code ?? null, message: String(e.message ?? err) }));
}
