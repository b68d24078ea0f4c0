#!/usr/bin/env node
// Checks the workspace's dependency declarations against the code (no build needed; exits 1 on a finding):
// - every package imported by a workspace package's src/ (workspace or npm; read with TypeScript's import
//   scanner) is in its dependencies,
//   and every dependency it declares is imported there (or is an nx implicitDependency instead);
// - test/ and tools/ import only workspace packages and the root's devDependencies;
// - each project's nx tag `type:<layer>` allows its workspace dependencies (LAYERS below, described in
//   ARCHITECTURE.md), and the workspace graph has no cycle;
// - each TypeScript package's tsconfig.json (the per-package typecheck, `tsc -b tsconfig.packages.json`)
//   is the one derived from its package.json: project references to its workspace dependencies, `paths`
//   that resolve only the packages of its dependency closure and map every other workspace package to
//   tools/typecheck/undeclared.d.ts, so that importing from an undeclared one fails the typecheck too.
//   node tools/check-deps.mjs [--quiet] [--write] [--root DIR]
//   --write: (re)writes packages/*/tsconfig.json and tsconfig.packages.json; --root: another workspace.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const quiet = argv.includes("--quiet");
const write = argv.includes("--write");
const rootArg = argv.indexOf("--root");
const root =
    rootArg >= 0 && argv[rootArg + 1]
        ? path.resolve(argv[rootArg + 1])
        : path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Layers from the bottom up: a project may depend on projects of the layers listed for its own. */
const LAYERS = {
    core: ["core"],
    native: ["core", "native"],
    domain: ["core", "native", "domain"],
    app: ["core", "native", "domain", "app"],
};

const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function sourceFiles(dir) {
    const out = [];
    let names;
    try {
        names = readdirSync(dir).sort();
    } catch {
        return out;
    }
    for (const name of names) {
        if (name === "node_modules" || name === "dist") continue;
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
        else if (/\.(ts|mts|cts|mjs|cjs|js)$/.test(name) && !name.endsWith(".d.ts")) out.push(p);
    }
    return out;
}

// TypeScript's own import scanner (static imports and exports, side-effect imports, import() also in
// type positions, require()); strings and comments are not read as imports. Plus require.resolve().
const ts = createRequire(import.meta.url)("typescript");
const RESOLVE = /\brequire\.resolve\s*\(\s*(["'])([^"'\n]+)\1/g;

function specifiers(file) {
    const text = readFileSync(file, "utf8");
    const out = new Set(ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName));
    for (const m of text.matchAll(RESOLVE)) out.add(m[2]);
    return out;
}

/** The package a bare specifier names ("@scope/name/sub" -> "@scope/name"); null for relative paths and built-ins. */
function packageOf(spec) {
    if (spec.startsWith(".") || spec.startsWith("/") || builtins.has(spec) || spec.startsWith("node:")) return null;
    const parts = spec.split("/");
    const name = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
    return builtins.has(name) ? null : name;
}

function projects() {
    const rootPkg = readJson(path.join(root, "package.json"));
    const dirs = [];
    for (const pattern of rootPkg.workspaces) {
        if (pattern.endsWith("/*")) {
            const base = path.join(root, pattern.slice(0, -2));
            for (const n of readdirSync(base).sort()) {
                if (statSync(path.join(base, n, "package.json"), { throwIfNoEntry: false }))
                    dirs.push(path.join(base, n));
            }
        } else dirs.push(path.join(root, pattern));
    }
    return dirs.map((dir) => {
        const pkg = readJson(path.join(dir, "package.json"));
        const nx = pkg.nx ?? {};
        return {
            dir: path.relative(root, dir),
            name: pkg.name,
            deps: Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.optionalDependencies }),
            devDeps: Object.keys(pkg.devDependencies ?? {}),
            implicit: nx.implicitDependencies ?? [],
            tags: nx.tags ?? [],
            hasSrc: statSync(path.join(dir, "src"), { throwIfNoEntry: false })?.isDirectory() ?? false,
        };
    });
}

const UNDECLARED = "tools/typecheck/undeclared.d.ts";
const CACHE = "node_modules/.cache/typecheck";

/** The per-package tsconfig files derived from the package.json files, as path -> text. */
function tsconfigs(all) {
    const byName = new Map(all.map((p) => [p.name, p]));
    const ts = all.filter(
        (p) => p.hasSrc && statSync(path.join(root, p.dir, "tsconfig.build.json"), { throwIfNoEntry: false }),
    );
    const isTs = new Set(ts.map((p) => p.name));
    const closure = (name, seen = new Set()) => {
        for (const d of byName.get(name).deps) {
            if (isTs.has(d) && !seen.has(d)) {
                seen.add(d);
                closure(d, seen);
            }
        }
        return seen;
    };
    const scopes = [...new Set([...isTs].filter((n) => n.startsWith("@")).map((n) => n.split("/")[0]))].sort();
    const out = new Map();
    for (const p of ts) {
        const rel = (to) => path.relative(path.join(root, p.dir), path.join(root, to)).split(path.sep).join("/");
        const paths = {};
        for (const d of [...closure(p.name)].sort()) paths[d] = [rel(`${byName.get(d).dir}/src/index.ts`)];
        for (const s of scopes) paths[`${s}/*`] = [rel(UNDECLARED)];
        const config = {
            extends: rel("tsconfig.package.json"),
            compilerOptions: {
                outDir: rel(`${CACHE}/${path.basename(p.dir)}`),
                tsBuildInfoFile: rel(`${CACHE}/${path.basename(p.dir)}.tsbuildinfo`),
                paths,
            },
            include: ["src/**/*.ts"],
            references: p.deps
                .filter((d) => isTs.has(d))
                .sort()
                .map((d) => ({ path: rel(byName.get(d).dir) })),
        };
        const head =
            "// Per-package typecheck, written by `node tools/check-deps.mjs --write` from package.json: the\n" +
            "// references are its workspace dependencies; other workspace packages resolve to undeclared.d.ts.\n";
        out.set(`${p.dir}/tsconfig.json`, `${head}${JSON.stringify(config, null, 2)}\n`);
    }
    const solution = { files: [], references: ts.map((p) => ({ path: p.dir })) };
    if (ts.length) out.set("tsconfig.packages.json", `${JSON.stringify(solution, null, 2)}\n`);
    return out;
}

/** Imports of the given files, as package -> first file that imports it. */
function importsOf(files) {
    const used = new Map();
    for (const f of files) {
        for (const spec of specifiers(f)) {
            const name = packageOf(spec);
            if (name && !used.has(name)) used.set(name, path.relative(root, f));
        }
    }
    return used;
}

function check() {
    const problems = [];
    const all = projects();
    const byName = new Map(all.map((p) => [p.name, p]));
    const rootPkg = readJson(path.join(root, "package.json"));

    for (const p of all) {
        const declared = new Set(p.deps);
        const where = `${p.dir}/package.json`;
        for (const d of p.implicit) {
            if (!byName.has(d))
                problems.push(`${where}: nx.implicitDependencies names '${d}', not a workspace project`);
            if (declared.has(d)) problems.push(`${where}: '${d}' is both a dependency and an nx implicitDependency`);
        }
        if (p.hasSrc) {
            const used = importsOf(sourceFiles(path.join(root, p.dir, "src")));
            for (const [name, file] of used) {
                if (name === p.name) continue;
                if (!declared.has(name))
                    problems.push(`${file}: imports '${name}', which ${where} does not declare in dependencies`);
            }
            for (const d of declared) {
                if (!used.has(d)) problems.push(`${where}: declares '${d}' but nothing under ${p.dir}/src imports it`);
            }
        }
        for (const d of p.devDeps) {
            if (byName.has(d))
                problems.push(`${where}: workspace package '${d}' belongs in dependencies, not devDependencies`);
        }
    }

    // Tests and tools: workspace packages and the root's devDependencies.
    const rootDev = new Set(Object.keys({ ...rootPkg.devDependencies, ...rootPkg.dependencies }));
    const testFiles = ["test", "tools"].flatMap((d) => sourceFiles(path.join(root, d)));
    for (const [name, file] of importsOf(testFiles.filter((f) => !f.includes(`${path.sep}bench${path.sep}`)))) {
        if (!byName.has(name) && !rootDev.has(name))
            problems.push(
                `${file}: imports '${name}', which the root package.json does not declare in devDependencies`,
            );
    }

    // The per-package tsconfig files.
    for (const [file, text] of tsconfigs(all)) {
        const abs = path.join(root, file);
        if (write) writeFileSync(abs, text);
        else if ((statSync(abs, { throwIfNoEntry: false }) ? readFileSync(abs, "utf8") : "") !== text)
            problems.push(
                `${file}: not the one derived from the package.json files (node tools/check-deps.mjs --write)`,
            );
    }

    // Layers (nx tags) and cycles over the workspace graph.
    const edges = new Map(all.map((p) => [p.name, [...p.deps, ...p.implicit].filter((d) => byName.has(d))]));
    const layerOf = new Map();
    for (const p of all) {
        const types = p.tags.filter((t) => t.startsWith("type:")).map((t) => t.slice(5));
        if (types.length !== 1 || !(types[0] in LAYERS))
            problems.push(
                `${p.dir}/package.json: needs exactly one nx tag type:<${Object.keys(LAYERS).join("|")}>, has [${p.tags.join(", ")}]`,
            );
        else layerOf.set(p.name, types[0]);
    }
    for (const [from, tos] of edges) {
        const a = layerOf.get(from);
        if (!a) continue;
        for (const to of tos) {
            const b = layerOf.get(to);
            if (b && !LAYERS[a].includes(b))
                problems.push(`${byName.get(from).dir}: ${from} (type:${a}) may not depend on ${to} (type:${b})`);
        }
    }
    const state = new Map();
    const visit = (name, stack) => {
        if (state.get(name) === "done") return;
        if (state.get(name) === "open") {
            problems.push(`dependency cycle: ${[...stack.slice(stack.indexOf(name)), name].join(" -> ")}`);
            return;
        }
        state.set(name, "open");
        for (const to of edges.get(name) ?? []) visit(to, [...stack, name]);
        state.set(name, "done");
    };
    for (const name of edges.keys()) visit(name, []);
    return { problems, projects: all.length };
}

const { problems, projects: n } = check();
for (const p of problems) console.error(`check-deps: ${p}`);
if (problems.length) {
    console.error(`check-deps: ${problems.length} problem(s) in ${n} projects`);
    process.exit(1);
}
if (!quiet) console.log(`check-deps: ${n} projects, dependencies match imports, layers respected`);
