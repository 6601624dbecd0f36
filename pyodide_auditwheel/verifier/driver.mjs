// verify's runtime side: each wheel of a job gets a Pyodide instance of its own under this
// Node process, installs the wheel in it and imports its modules, and says what happened as it
// happens, one JSON event per line on stdout (so that a module that never returns is known by
// the last "start" event before the timeout).
// usage: node --expose-gc driver.mjs PYODIDE_DIR JOB.json
//   JOB: {"wheels": [{"wheel": path, "before": [path...], "packages": [name...],
//         "extensions": [[dotted name, path relative to site-packages]...]}...]}
// Events, for each wheel: wheel {index}; ready {version}; installed {errors}; start {name};
//         module {name, error}; libraries {instances: [{names, sha256}], unloaded: [name...]};
//         done.  Exit 0 whatever the wheels do; 3 when the runtime itself cannot start.
// What the wheels of one job share: this process (its JavaScript globals, its environment),
// and the runtime's compiled code.  What each has of its own: the Python interpreter, the
// file system, the loader's tables, the wasm memory: a new loadPyodide for every wheel.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";

const [runtimeDir, jobFile] = process.argv.slice(2);
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const words = (error) => String(error && error.message ? error.message : error).slice(0, 4000);
const fatal = (error) => {
  emit({ event: "fatal", error: words(error) });
  process.exit(3);
};
let loadPyodide;
try {
  ({ loadPyodide } = createRequire(import.meta.url)(path.join(runtimeDir, "pyodide.js")));
} catch (error) {
  fatal(error);
}

const HELPERS = `
import importlib, importlib.machinery, importlib.util, sys, traceback

def _verify_words(error):
    return "".join(traceback.format_exception_only(type(error), error)).strip()[-4000:]

def _verify_import(name):
    try:
        importlib.import_module(name)
    except BaseException as error:
        return _verify_words(error)
    return ""

def _verify_load(name, path):
    """An extension module the imports did not reach, loaded from its file (its package's
    __init__ is not run: a failure there is the package's, already reported)."""
    if name in sys.modules:
        return ""
    try:
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except BaseException as error:
        return _verify_words(error)
    return ""
`;

async function verifyOne(job) {
  let pyodide;
  try {
    // The wheel's own prints are not verify's output; nothing of the host is mounted.
    pyodide = await loadPyodide({ indexURL: runtimeDir + path.sep, stdout: () => {}, stderr: () => {} });
  } catch (error) {
    fatal(error);
  }
  emit({ event: "ready", version: pyodide.version });
  const M = pyodide._module;

  // Every library instance the loader holds, by its exports object (one per instance), under
  // every name it is known by: LDSO entries and, on 0.21, its preloaded modules too.
  function loadedNames() {
    const named = Object.entries(M.LDSO.loadedLibsByName).map(([name, dso]) => [name, dso.exports || dso.module]);
    return named.concat(Object.entries(M.preloadedWasm || {}));
  }

  async function install(wheel, errors) {
    const callback = (line) => errors.push(String(line));
    const quiet = () => {};
    // 0.21 takes the callbacks as positional arguments, later releases as options.
    if (pyodide.version.startsWith("0.21.")) await pyodide.loadPackage(wheel, quiet, callback);
    else await pyodide.loadPackage(wheel, { messageCallback: quiet, errorCallback: callback });
  }

  for (const wheel of job.before) {
    const errors = [];
    await install(wheel, errors);
    if (errors.length) emit({ event: "prerequisite", wheel, errors });
  }
  const before = new Set(loadedNames().map(([name]) => name));
  const errors = [];
  try {
    await install(job.wheel, errors);
  } catch (error) {
    errors.push(words(error));
  }
  emit({ event: "installed", errors });

  pyodide.runPython(HELPERS);
  const site = pyodide.runPython("import site; site.getsitepackages()[0]");
  const importOne = pyodide.globals.get("_verify_import");
  const loadOne = pyodide.globals.get("_verify_load");
  for (const name of job.packages) {
    emit({ event: "start", name });
    let error;
    try {
      error = importOne(name);
    } catch (caught) {
      error = words(caught);
    }
    emit({ event: "module", name, error });
  }
  for (const [name, file] of job.extensions) {
    emit({ event: "start", name });
    let error;
    try {
      error = loadOne(name, `${site}/${file}`);
    } catch (caught) {
      error = words(caught);
    }
    emit({ event: "module", name, error, file });
  }

  const byExports = new Map();
  for (const [name, exports] of loadedNames()) {
    // Only what was loaded from a file counts (0.21 lists its main module among the preloaded).
    if (before.has(name) || typeof exports !== "object" || exports === null) continue;
    if (!byExports.has(exports)) byExports.set(exports, new Set());
    byExports.get(exports).add(name);
  }
  const fromFiles = [...byExports.values()].filter((names) => [...names].some((name) => name.startsWith("/")));
  const instances = fromFiles.map((names) => {
    const file = [...names].find((name) => name.startsWith("/"));
    let sha256 = null;
    try {
      if (file) sha256 = createHash("sha256").update(M.FS.readFile(file)).digest("hex");
    } catch {
      sha256 = null;
    }
    return { names: [...names].sort(), sha256 };
  });
  // A library whose load failed keeps its LDSO entry, with no exports: a later dlopen of it (a
  // ctypes.CDLL) is handed that entry and "succeeds", and every call into it fails.
  const unloaded = loadedNames()
    .filter(([name, exports]) => name.startsWith("/") && !before.has(name) && (typeof exports !== "object" || !exports))
    .map(([name]) => name);
  emit({ event: "libraries", instances, unloaded });
  emit({ event: "done" });
}

const { wheels } = JSON.parse(readFileSync(jobFile, "utf-8"));
for (const [index, job] of wheels.entries()) {
  emit({ event: "wheel", index });
  await verifyOne(job);
  // The instance is dropped: what it held is collected before the next wheel's is made.
  if (globalThis.gc) globalThis.gc();
}
process.exit(0);
