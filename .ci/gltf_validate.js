#!/usr/bin/env node
// Validate glTF/GLB files with the Khronos glTF validator and print one JSON report per file.
// Install the validator once (project-local, gitignored): npm install --prefix .ci/gltf gltf-validator
// Usage: node .ci/gltf_validate.js FILE [FILE ...]   (exit 1 when any file has errors)
"use strict";
const fs = require("fs");
const path = require("path");

function loadValidator() {
  const local = path.join(__dirname, "gltf", "node_modules", "gltf-validator");
  try { return require(local); } catch (e) { return require("gltf-validator"); }
}

async function main(files) {
  const validator = loadValidator();
  let errors = 0;
  const reports = [];
  for (const file of files) {
    const data = fs.readFileSync(file);
    const dir = path.dirname(file);
    const report = await validator.validateBytes(new Uint8Array(data), {
      uri: path.basename(file),
      maxIssues: 100,
      externalResourceFunction: (uri) => new Promise((resolve, reject) => {
        fs.readFile(path.join(dir, decodeURIComponent(uri)), (err, buf) =>
          err ? reject(err.toString()) : resolve(new Uint8Array(buf)));
      }),
    });
    errors += report.issues.numErrors;
    reports.push(report);
  }
  process.stdout.write(JSON.stringify(files.length === 1 ? reports[0] : reports, null, 2) + "\n");
  process.exitCode = errors > 0 ? 1 : 0;
}

if (process.argv.length < 3) {
  process.stderr.write("usage: node .ci/gltf_validate.js FILE [FILE ...]\n");
  process.exit(2);
}
main(process.argv.slice(2)).catch((e) => { process.stderr.write(String(e) + "\n"); process.exit(2); });
