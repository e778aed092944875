// Semantic validation of an AsyncAPI document with the official parser (@asyncapi/parser):
// references resolve, operations' messages belong to their channel, and the parser's own
// rules hold, beyond what the JSON Schema checks. Errors fail; warnings are printed.
//
// usage: node check.cjs <directory where `npm ci` installed package.json> <document>
"use strict";

const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

const [installed, file] = process.argv.slice(2);
if (!installed || !file) {
  console.error("usage: node check.cjs <install directory> <asyncapi document>");
  process.exit(2);
}
const load = createRequire(path.resolve(installed, "package.json"));
const { Parser, DiagnosticSeverity } = load("@asyncapi/parser");

// Only information: the document states the version it is written in on purpose.
const IGNORED = new Set(["asyncapi-latest-version"]);

(async () => {
  const parser = new Parser();
  const source = path.resolve(file);
  const { document, diagnostics } = await parser.parse(fs.readFileSync(source, "utf8"), {
    source,
  });
  let errors = 0;
  for (const d of diagnostics) {
    if (IGNORED.has(d.code) || d.severity > DiagnosticSeverity.Warning) continue;
    const level = d.severity === DiagnosticSeverity.Error ? "error" : "warning";
    if (level === "error") errors += 1;
    console.log(`${level}: ${d.path.join(".") || "(document)"}: ${d.message} [${d.code}]`);
  }
  if (errors > 0 || document === undefined) {
    console.log(`${file}: ${errors} error(s) from @asyncapi/parser`);
    process.exit(1);
  }
  console.log(`${file}: valid for @asyncapi/parser`);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
