// Load wheels into a real Pyodide runtime under Node and run Python code there.
// usage: node run.mjs <runtime: pyodide-0.27|pyodide-0.29|pyodide-314> <code> <wheel>...
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
    await pyodide.loadPackage(wheel, {
      messageCallback: (line) => messages.push(line),
      errorCallback: (line) => messages.push(line),
    });
  }
  const result = pyodide.runPython(code);
  console.log(JSON.stringify({ ok: true, result: String(result), messages }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error && error.message ? error.message : error), messages }));
}
