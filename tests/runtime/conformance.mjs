// The conformance harness's runtime side: one Pyodide instance answers many cases with the
// runtime's own functions, so the tool's model of the loader can be held against the loader.
// usage: node conformance.mjs RUNTIME CASES.json   (prints one JSON array of answers)
//
// Case kinds (every answer carries the case's "id"):
//   dylink   {module: base64}  -> the runtime's getDylinkMetadata() of those bytes
//   search   {files, name, parent, paths}  -> findLibraryFS(name, {parentLibPath, paths}) after
//            creating the files (emscripten >= 4 only: older loaders have no findLibraryFS)
//   install  {wheel: path, dlopen: [path...]}  -> the runtime's install step: whether it loaded,
//            the error, and the instances it made (below); then each path is dlopened as an
//            extension import does (ctypes.CDLL), and the first error is reported
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [runtime, casesFile] = process.argv.slice(2);
if (!runtime || !casesFile) {
  console.error("usage: node conformance.mjs RUNTIME CASES.json");
  process.exit(2);
}
const { loadPyodide } = require(runtime);
const pyodide = await loadPyodide({ stdout: () => {}, stderr: () => {} });
const M = pyodide._module;
const FS = M.FS;

function message(error) {
  return String(error && error.message ? error.message : error);
}

function dylink(entry) {
  try {
    const meta = M.getDylinkMetadata(new Uint8Array(Buffer.from(entry.module, "base64")));
    return {
      needed: meta.neededDynlibs,
      runtime_paths: meta.runtimePaths === undefined ? null : meta.runtimePaths,
      weak: [...meta.weakImports].sort(),
      tls: [...meta.tlsExports].sort(),
      mem: [meta.memorySize ?? null, meta.memoryAlign ?? null, meta.tableSize ?? null, meta.tableAlign ?? null],
    };
  } catch (error) {
    return { error: message(error) };
  }
}

function search(entry) {
  if (typeof M.findLibraryFS !== "function") return { error: "no findLibraryFS" };
  for (const dir of entry.dirs || []) FS.mkdirTree(dir);
  for (const file of entry.files) {
    FS.mkdirTree(file.slice(0, file.lastIndexOf("/")) || "/");
    FS.writeFile(file, "x");
  }
  const found = M.findLibraryFS(entry.name, { parentLibPath: entry.parent, paths: entry.paths });
  return { found: found === undefined ? null : found };
}

// The runtime's own install step (unpack, then load every .so of the wheel in archive order),
// without loadPackage's package-manager work around it.
const api = pyodide._api;
async function runInstall(buffer, fileName) {
  if (typeof api.install !== "function") {
    // Before 0.26 the install step is unpack_buffer, then loadDynlibsFromPackage.
    const dynlibs = api.package_loader.unpack_buffer.callKwargs({
      buffer,
      filename: fileName,
      target: "site",
      calculate_dynlibs: true,
      installer: "pyodide.loadPackage",
      source: "pyodide",
    });
    if (typeof api.loadDynlibsFromPackage !== "function") {
      // 0.21: each .so in archive order, by loadDynlib (instantiated from its own file).
      for (const dynlib of dynlibs) await api.loadDynlib(dynlib, false);
      return;
    }
    return api.loadDynlibsFromPackage({ file_name: fileName, shared_library: false }, dynlibs);
  }
  const installDir = api.package_loader.get_install_dir("site");
  if (/^0\.2[0-7]\./.test(pyodide.version)) {
    return api.install(buffer, fileName, installDir, "pyodide.loadPackage", "pyodide");
  }
  return api.install(buffer, fileName, installDir, new Map([["INSTALLER", "pyodide.loadPackage"]]));
}

// loadPackage of 0.21-0.27 binds the undefined GOT entries once every package is installed.
const bindsGotAfterInstall = /^0\.2[0-7]\./.test(pyodide.version);

// The instances the loader made, by their exports object (one per instance), under every name
// it is known by: LDSO entries and, on 0.21, preloadedWasm entries too.  Each generated module
// exports a global "__cf_<content id>" that says which file (by content) it is.
function loadedNames() {
  const named = Object.entries(M.LDSO.loadedLibsByName).map(([name, dso]) => [name, dso.exports || dso.module]);
  return named.concat(Object.entries(M.preloadedWasm || {}));
}

function instancesSince(before) {
  const byExports = new Map();
  for (const [name, exports] of loadedNames()) {
    if (before.has(name) || typeof exports !== "object" || exports === null) continue;
    if (!byExports.has(exports)) byExports.set(exports, new Set());
    byExports.get(exports).add(name);
  }
  return [...byExports].map(([exports, names]) => ({
    names: [...names],
    content: Object.keys(exports).find((key) => key.startsWith("__cf_"))?.slice(5) ?? null,
  }));
}

async function install(entry) {
  const before = new Set(loadedNames().map(([name]) => name));
  const gotBefore = new Set(Object.keys(M.GOT));
  let error = "";
  try {
    const buffer = new Uint8Array(readFileSync(entry.wheel));
    await runInstall(buffer, entry.wheel.slice(entry.wheel.lastIndexOf("/") + 1));
    if (bindsGotAfterInstall) M.reportUndefinedSymbols();
  } catch (caught) {
    error = message(caught);
  }
  const instances = instancesSince(before);
  for (const path of entry.dlopen || []) {
    if (error) break;
    try {
      pyodide.runPython(`import ctypes; ctypes.CDLL(${JSON.stringify(path)})`);
    } catch (caught) {
      error = message(caught).split("\n").filter((line) => line.trim()).slice(-1)[0] || message(caught);
    }
  }
  // The GOT is the process's: an entry this case left unbound would make every later dlopen
  // fail (a real effect of one bad wheel on the others); cases are kept apart.
  for (const name of Object.keys(M.GOT)) if (!gotBefore.has(name)) delete M.GOT[name];
  return { ok: !error, error, instances };
}

const handlers = { dylink, search, install };
const cases = JSON.parse(readFileSync(casesFile, "utf-8"));
const answers = [];
for (const entry of cases) {
  const handler = handlers[entry.kind];
  const answer = handler ? await handler(entry) : { error: `unknown case kind ${entry.kind}` };
  answers.push({ id: entry.id, ...answer });
}
process.stdout.write(JSON.stringify({ runtime, site_packages: pyodide.runPython("import site; site.getsitepackages()[0]"), answers }) + "\n");
