// Load wheels into a real Pyodide runtime under Node and run Python code there.
// usage: node run.mjs <runtime: a package of tests/runtime/package.json> <code> <wheel>...
// Prints one JSON line: {"ok": true, "result": <str of the code's last expression>} or
// {"ok": false, "error": "<message>"}.  Exit code 0 either way; 2 for a broken driver.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const [runtime, code, ...wheels] = process.argv.slice(2);
if (!runtime || code === undefined) {
  console.error("usage: node run.mjs RUNTIME CODE WHEEL...");
  process.exit(2);
}
const { loadPyodide } = require(runtime);
const messages = [];
const pyodide = await loadPyodide({
  stdout: (line) => messages.push(line),
  stderr: (line) => messages.push(line),
});
try {
  for (const wheel of wheels) {
    const callback = (line) => messages.push(line);
    // 0.21 takes the callbacks as positional arguments, later releases as options.
    if (pyodide.version.startsWith("0.21.")) await pyodide.loadPackage(wheel, callback, callback);
    else await pyodide.loadPackage(wheel, { messageCallback: callback, errorCallback: callback });
  }
  const result = pyodide.runPython(code);
  console.log(JSON.stringify({ ok: true, result: String(result), messages }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error && error.message ? error.message : error), messages }));
}
