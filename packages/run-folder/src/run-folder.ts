/**
 * The run folder: the one place that knows its layout. Every read is validated and every write is
 * atomic. A unit of work (dataset x strategy x seed [x fold]) owns one sub-folder and writes only
 * there, so units can run in any order, in several processes, and be skipped once finished.
 *
 *   config.json        {fingerprint, plan}: the resolved plan; a rerun must bring the same fingerprint
 *   run.json           provenance: tool version and commit, backend, threads, SIMD, CPU kernel level,
 *                      checkpoint digests, start and end time of every invocation
 *   run.log            one line per event, appended by every invocation
 *   run.lock           the owner lock of a whole-folder run (see lock.ts); runs of single units
 *                      (--unit, --shard, Slurm array tasks) take only the locks of their units
 *   units/<unit id>.{lock,failed.json,done.json}   per-unit lock, last failure and completion marker
 *                      of the work units (prepare, embed, train, zeroshot, report)
 *   data/<dataset>/    prepared patches and manifest
 *   cache/             embedding caches (unless --cache-dir)
 *   results/<dataset>/<strategy>/seed<k>/   one unit: result.json (written last: marks it done; no
 *                      timings, so the same plan gives the same bytes however it is split),
 *                      timing.json (seconds of this run of the unit), per-image.csv,
 *                      decoder.safetensors, state/, predictions/, unit.lock
 *   results/<dataset>/<strategy>/zeroshot/  the strategy's zero-shot baseline
 *   results/<dataset>/<strategy>/fold<f>/{seed<k>/, zeroshot/}   the same per cross-validation fold
 *                      (a dataset without folds has no fold level: its folders are as above)
 *   report/            tables, figures, report.html
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { quoted } from "@sam-ablate/errors";
import { type AtomicData, writeFileAtomic, writeFileAtomicSync, writeJsonAtomicSync } from "./atomic.js";
import { removeStaleTemps, type TempCleanupOptions } from "./cleanup.js";
import { RunFolderError } from "./errors.js";
import { FileLock, type LockOptions } from "./lock.js";
import { type UnitRecord, validateUnitRecord, validateZeroShotRecord, type ZeroShotRecord } from "./records.js";

/** Names of the files and folders of a run folder. */
export const LAYOUT = {
    config: "config.json",
    provenance: "run.json",
    log: "run.log",
    lock: "run.lock",
    data: "data",
    cache: "cache",
    results: "results",
    report: "report",
    units: "units",
    unit: {
        result: "result.json",
        timing: "timing.json",
        perImage: "per-image.csv",
        decoder: "decoder.safetensors",
        state: "state",
        predictions: "predictions",
        lock: "unit.lock",
    },
} as const;

/** Identifies a train + evaluate unit. */
export interface UnitId {
    dataset: string;
    strategy: string;
    seed: number;
    fold?: number;
}

/** The stored configuration: the plan and the fingerprint of the parts that change results. */
export interface StoredConfig<P> {
    fingerprint: string;
    plan: P;
}

/** One invocation of a run, as run.json records it. */
export interface Invocation {
    command: string;
    tool: { name: string; version: string; commit?: string };
    node: string;
    host: string;
    pid: number;
    platform: string;
    cpu?: string;
    backend?: string;
    threads?: number;
    /** SIMD baseline the native core was compiled for (e.g. "avx2+fma"). */
    simd?: string;
    /** CPU kernel level in use (avx2, avx512, avx512bf16, amx): CPU results are bit-reproducible per level. */
    isa?: string;
    /** sha256 of every weights file used (path -> hex). */
    checkpoints?: Record<string, string>;
    startedAt: string;
    endedAt?: string;
    status: "running" | "finished" | "failed" | "interrupted";
    error?: string;
    [extra: string]: unknown;
}

/** run.json. */
export interface Provenance {
    fingerprint?: string;
    invocations: Invocation[];
}

/** Folder names of datasets, strategies and unit id parts (":" for architecture ids such as head:cnn2). */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+:-]*$/;

function segment(kind: string, name: string): string {
    if (!SAFE_NAME.test(name) || name.includes("..")) {
        throw new RunFolderError(
            "ERR_SA_RUN_FOLDER",
            `${kind} name ${quoted(name)} cannot be a folder name (letters, digits, . _ + : - only)`,
        );
    }
    return name;
}

function readJson(file: string): unknown {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch (e) {
        throw new RunFolderError(
            "ERR_SA_RUN_FOLDER",
            `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
            { cause: e },
        );
    }
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new RunFolderError(
            "ERR_SA_RUN_FOLDER",
            `${file}: not valid JSON (${(e as Error).message.slice(0, 80)})`,
            { cause: e },
        );
    }
}

/**
 * One unit's sub-folder: the unit writes only here, every file atomically, and `result.json` last
 * (`finish`), so a unit is either done (result.json present) or redone from its own state.
 */
export class UnitFolder {
    constructor(
        readonly dir: string,
        /** "dataset/strategy/[fold1/]seed0" or "dataset/strategy/[fold1/]zeroshot": the unit's key inside the run. */
        readonly key: string,
    ) {}

    /** A file of the unit (for files other modules add). */
    file(name: string): string {
        return path.join(this.dir, name);
    }

    get resultFile(): string {
        return this.file(LAYOUT.unit.result);
    }
    get lockFile(): string {
        return this.file(LAYOUT.unit.lock);
    }
    /** A saved prediction of a test image (`predictions/<imageId>.<ext>`). */
    predictionFile(imageId: string, ext = "png"): string {
        return path.join(this.dir, LAYOUT.unit.predictions, `${segment("image", imageId)}.${ext}`);
    }

    /** True when result.json exists (it is written last). */
    isDone(): boolean {
        return existsSync(this.resultFile);
    }

    /**
     * The finished record through `validate` (which throws naming the file), or undefined when not
     * done. The timings of timing.json are merged in (trainSeconds, evalSeconds, validation.seconds;
     * 0 when absent); a record written before timings moved out of result.json keeps its own.
     */
    readRecord<T>(validate: (v: unknown, file: string) => T): T | undefined {
        if (!this.isDone()) return undefined;
        const rec = readJson(this.resultFile);
        if (rec && typeof rec === "object" && !Array.isArray(rec)) {
            const o = rec as Record<string, unknown>;
            const tf = this.file(LAYOUT.unit.timing);
            const t = existsSync(tf) ? (readJson(tf) as Record<string, unknown> | null) : null;
            const num = (k: string) => (t && typeof t[k] === "number" ? (t[k] as number) : 0);
            if ("epochLosses" in o && o.trainSeconds === undefined) o.trainSeconds = num("trainSeconds");
            if (o.evalSeconds === undefined) o.evalSeconds = num("evalSeconds");
            const v = o.validation as Record<string, unknown> | undefined;
            if (v && typeof v === "object" && v.seconds === undefined) v.seconds = num("valSeconds");
        }
        return validate(rec, this.resultFile);
    }

    /** Writes any file of the unit atomically. */
    writeFile(name: string, data: AtomicData): Promise<void> {
        return writeFileAtomic(this.file(name), data);
    }
    writeFileSync(name: string, data: AtomicData): void {
        writeFileAtomicSync(this.file(name), data);
    }
    writeJson(name: string, value: unknown): void {
        writeJsonAtomicSync(this.file(name), value);
    }
    /** Reads a JSON file of the unit through `parse` (which validates); undefined when absent. */
    readJson<T>(name: string, parse: (v: unknown, file: string) => T): T | undefined {
        const f = this.file(name);
        if (!existsSync(f)) return undefined;
        return parse(readJson(f), f);
    }

    /**
     * Finishes the unit: writes `files` (name -> content, e.g. per-image.csv), then result.json last
     * (its presence marks the unit done). Everything else the unit writes must be written before.
     */
    finish(
        record: unknown,
        files: Readonly<Record<string, AtomicData>> = {},
        timing?: Readonly<Record<string, number>>,
    ): void {
        for (const [name, data] of Object.entries(files)) writeFileAtomicSync(this.file(name), data);
        // Timings apart from the record (timing.json), so result.json is the same bytes however and
        // wherever the run was split.
        if (timing) writeJsonAtomicSync(this.file(LAYOUT.unit.timing), timing);
        writeJsonAtomicSync(this.resultFile, record);
    }

    /** Takes the unit's own lock (for runs that spread units over processes). */
    lock(opts: LockOptions): Promise<FileLock> {
        mkdirSync(this.dir, { recursive: true });
        return FileLock.acquire(this.lockFile, { what: `unit ${this.key}`, ...opts });
    }
}

/** A train + evaluate unit (dataset x strategy x seed [x fold]). */
export class TrainUnit extends UnitFolder {
    constructor(
        dir: string,
        readonly id: UnitId,
    ) {
        super(dir, unitKey(id));
    }

    get decoderFile(): string {
        return this.file(LAYOUT.unit.decoder);
    }
    get stateDir(): string {
        return this.file(LAYOUT.unit.state);
    }

    /** The finished record, or undefined when the unit is not done. An invalid record is an error naming the file. */
    readResult(): UnitRecord | undefined {
        const rec = this.readRecord(validateUnitRecord);
        if (
            rec &&
            (rec.dataset !== this.id.dataset ||
                rec.strategy !== this.id.strategy ||
                rec.seed !== this.id.seed ||
                rec.fold !== this.id.fold)
        ) {
            throw new RunFolderError("ERR_SA_RUN_FOLDER", `${this.resultFile}: holds ${unitKey(rec)}, not ${this.key}`);
        }
        return rec;
    }
}

/** The zero-shot baseline of a strategy: the pretrained decoder evaluated with its prompts (no seed). */
export class ZeroShotUnit extends UnitFolder {
    constructor(
        dir: string,
        readonly dataset: string,
        readonly strategy: string,
        readonly fold?: number,
    ) {
        super(dir, `${dataset}/${strategy}/${foldPart(fold)}zeroshot`);
    }

    readResult(): ZeroShotRecord | undefined {
        const rec = this.readRecord(validateZeroShotRecord);
        if (rec && (rec.dataset !== this.dataset || rec.strategy !== this.strategy || rec.fold !== this.fold)) {
            throw new RunFolderError(
                "ERR_SA_RUN_FOLDER",
                `${this.resultFile}: holds ${rec.dataset}/${rec.strategy}/${foldPart(rec.fold)}zeroshot, not ${this.key}`,
            );
        }
        return rec;
    }
}

function foldPart(fold: number | undefined): string {
    return fold === undefined ? "" : `fold${fold}/`;
}

/** The key of a unit: "dataset/strategy/seed0", with a fold "dataset/strategy/fold1/seed0". */
export function unitKey(id: UnitId): string {
    return `${id.dataset}/${id.strategy}/${foldPart(id.fold)}seed${id.seed}`;
}

/** A run folder. Creating the object touches nothing on disk. */
export class RunFolder {
    readonly dir: string;
    constructor(dir: string) {
        this.dir = path.resolve(dir);
    }

    get configFile(): string {
        return path.join(this.dir, LAYOUT.config);
    }
    get provenanceFile(): string {
        return path.join(this.dir, LAYOUT.provenance);
    }
    get logFile(): string {
        return path.join(this.dir, LAYOUT.log);
    }
    get lockFile(): string {
        return path.join(this.dir, LAYOUT.lock);
    }
    get reportDir(): string {
        return path.join(this.dir, LAYOUT.report);
    }
    get resultsDir(): string {
        return path.join(this.dir, LAYOUT.results);
    }
    get defaultCacheDir(): string {
        return path.join(this.dir, LAYOUT.cache);
    }
    /** Per-unit state of the work units: `units/<unit id><suffix>` (suffix ".lock", ".failed.json", ".done.json"). */
    unitStateFile(unitId: string, suffix: string): string {
        const parts = unitId.split("/");
        for (const p of parts) segment("unit id part", p);
        return `${path.join(this.dir, LAYOUT.units, ...parts)}${suffix}`;
    }
    dataDir(dataset: string): string {
        return path.join(this.dir, LAYOUT.data, segment("dataset", dataset));
    }

    /** True when the folder holds a config.json. */
    exists(): boolean {
        return existsSync(this.configFile);
    }

    /** Throws ERR_SA_RUN_FOLDER unless this is a run folder (a folder with config.json). */
    assertRunFolder(): void {
        let st: ReturnType<typeof statSync>;
        try {
            st = statSync(this.dir);
        } catch {
            throw new RunFolderError("ERR_SA_RUN_FOLDER", `${this.dir}: no such folder`);
        }
        if (!st.isDirectory()) throw new RunFolderError("ERR_SA_RUN_FOLDER", `${this.dir}: not a folder`);
        if (!this.exists())
            throw new RunFolderError("ERR_SA_RUN_FOLDER", `${this.dir}: not a run folder (no ${LAYOUT.config})`);
    }

    /** Reads config.json; `parsePlan` validates the plan (and may throw its own coded error). */
    readConfig<P>(parsePlan: (plan: unknown) => P): StoredConfig<P> {
        this.assertRunFolder();
        const raw = readJson(this.configFile) as { fingerprint?: unknown; plan?: unknown } | null;
        if (!raw || typeof raw !== "object" || typeof raw.fingerprint !== "string" || raw.plan === undefined) {
            throw new RunFolderError(
                "ERR_SA_RUN_FOLDER",
                `${this.configFile}: not a run configuration (needs fingerprint and plan)`,
            );
        }
        let plan: P;
        try {
            plan = parsePlan(raw.plan);
        } catch (e) {
            const err = e as Error;
            err.message = `${this.configFile}: ${err.message}`;
            throw err;
        }
        return { fingerprint: raw.fingerprint, plan };
    }

    /**
     * Starts or continues a run: writes config.json when the folder is new, or checks that the
     * stored fingerprint is this plan's (another plan's folder is ERR_SA_RUN_FOLDER).
     */
    claim<P>(fingerprint: string, plan: P): void {
        if (this.exists()) {
            const raw = readJson(this.configFile) as { fingerprint?: unknown } | null;
            const prev = raw && typeof raw === "object" ? raw.fingerprint : undefined;
            if (prev !== fingerprint) {
                throw new RunFolderError(
                    "ERR_SA_RUN_FOLDER",
                    `${this.dir} holds a run of another plan (fingerprint ${quoted(prev)}, this plan ${fingerprint}); use a new --out folder to start a new run`,
                );
            }
            return;
        }
        mkdirSync(this.dir, { recursive: true });
        writeJsonAtomicSync(this.configFile, { fingerprint, plan });
    }

    /** The folder of a train + evaluate unit (nothing is created). */
    unit(id: UnitId): TrainUnit {
        if (!Number.isInteger(id.seed) || id.seed < 0) {
            throw new RunFolderError("ERR_SA_RUN_FOLDER", `seed ${quoted(id.seed)} is not an integer >= 0`);
        }
        const dir = path.join(this.strategyDir(id.dataset, id.strategy, id.fold), `seed${id.seed}`);
        return new TrainUnit(dir, id);
    }

    /** The folder of a strategy's zero-shot baseline, of one fold with cross-validation (nothing is created). */
    zeroShotUnit(dataset: string, strategy: string, fold?: number): ZeroShotUnit {
        return new ZeroShotUnit(
            path.join(this.strategyDir(dataset, strategy, fold), "zeroshot"),
            dataset,
            strategy,
            fold,
        );
    }

    /** `results/<dataset>/<strategy>`, or `.../fold<f>` with a cross-validation fold. */
    private strategyDir(dataset: string, strategy: string, fold: number | undefined): string {
        if (fold !== undefined && !(Number.isInteger(fold) && fold >= 0)) {
            throw new RunFolderError("ERR_SA_RUN_FOLDER", `fold ${quoted(fold)} is not an integer >= 0`);
        }
        const base = path.join(this.resultsDir, segment("dataset", dataset), segment("strategy", strategy));
        return fold === undefined ? base : path.join(base, `fold${fold}`);
    }

    /** Every train + evaluate unit folder present on disk (done or not). */
    listUnits(): TrainUnit[] {
        const out: TrainUnit[] = [];
        const ls = (d: string) => {
            try {
                return readdirSync(d, { withFileTypes: true })
                    .filter((e) => e.isDirectory())
                    .map((e) => e.name)
                    .sort();
            } catch {
                return [];
            }
        };
        for (const dataset of ls(this.resultsDir)) {
            for (const strategy of ls(path.join(this.resultsDir, dataset))) {
                const sdir = path.join(this.resultsDir, dataset, strategy);
                for (const leaf of ls(sdir)) {
                    const seed = /^seed(\d+)$/.exec(leaf);
                    if (seed)
                        out.push(new TrainUnit(path.join(sdir, leaf), { dataset, strategy, seed: Number(seed[1]) }));
                    const fold = /^fold(\d+)$/.exec(leaf);
                    if (!fold) continue;
                    for (const inner of ls(path.join(sdir, leaf))) {
                        const m = /^seed(\d+)$/.exec(inner);
                        if (!m) continue;
                        const id: UnitId = { dataset, strategy, seed: Number(m[1]), fold: Number(fold[1]) };
                        out.push(new TrainUnit(path.join(sdir, leaf, inner), id));
                    }
                }
            }
        }
        return out;
    }

    /** Takes the folder's lock (one whole-folder run at a time). */
    lock(opts: LockOptions): Promise<FileLock> {
        mkdirSync(this.dir, { recursive: true });
        return FileLock.acquire(this.lockFile, { what: `run folder ${this.dir}`, ...opts });
    }

    /** Removes temporary files and staging folders left by killed processes. */
    removeStaleTemps(opts?: TempCleanupOptions): string[] {
        return removeStaleTemps(this.dir, opts);
    }

    /** run.json, or an empty record when absent. */
    readProvenance(): Provenance {
        if (!existsSync(this.provenanceFile)) return { invocations: [] };
        const v = readJson(this.provenanceFile) as Provenance;
        if (!v || typeof v !== "object" || !Array.isArray(v.invocations)) {
            throw new RunFolderError(
                "ERR_SA_RUN_FOLDER",
                `${this.provenanceFile}: not a provenance record (needs invocations)`,
            );
        }
        return v;
    }

    /** Appends an invocation to run.json; returns a function that updates it (e.g. with its end). */
    recordInvocation(inv: Invocation, fingerprint?: string): (update: Partial<Invocation>) => void {
        const prov = this.readProvenance();
        const index = prov.invocations.length;
        prov.invocations.push(inv);
        if (fingerprint) prov.fingerprint = fingerprint;
        writeJsonAtomicSync(this.provenanceFile, prov);
        return (update) => {
            const cur = this.readProvenance();
            cur.invocations[index] = { ...(cur.invocations[index] ?? inv), ...update };
            writeJsonAtomicSync(this.provenanceFile, cur);
        };
    }

    /** Appends a time-stamped line to run.log. */
    log(line: string): void {
        mkdirSync(this.dir, { recursive: true });
        appendFileSync(this.logFile, `${new Date().toISOString()} [${process.pid}] ${line.replace(/\n/g, " ")}\n`);
    }

    /** Bytes under the folder (files only; links not followed). */
    diskUsage(): number {
        let total = 0;
        const walk = (d: string) => {
            let entries: import("node:fs").Dirent[];
            try {
                entries = readdirSync(d, { withFileTypes: true });
            } catch {
                return;
            }
            for (const e of entries) {
                const p = path.join(d, e.name);
                if (e.isDirectory()) walk(p);
                else if (e.isFile()) total += statSync(p).size;
            }
        };
        walk(this.dir);
        return total;
    }
}
