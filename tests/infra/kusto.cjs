// Runs Microsoft's KQL semantic analyzer (Kusto.Language, npm @kusto/language-service-next,
// installed by `make tools`) over query files, against a schema of tables and columns, and
// prints each file's diagnostics as JSON:
//   node kusto.cjs KUSTO_LANGUAGE_BRIDGE_JS SCHEMA_JSON FILE...
// SCHEMA_JSON: {"tables": {"Name": [["Column", "type"], ...], ...}}. An unknown table,
// column or function is an error diagnostic (KS204, KS142 ...), as it is in Log Analytics;
// the analyzers' advice (KS5xx: a shadowed variable, a slow operator ...) comes as warnings.
const { readFileSync } = require("node:fs");
const { dirname, join, resolve } = require("node:path");

const [bridgeArg, schemaPath, ...files] = process.argv.slice(2);
const bridgeJs = resolve(bridgeArg);
require(join(dirname(bridgeJs), "bridge.js")); // the Bridge.NET runtime, a global
require(bridgeJs); // defines the global Kusto namespace

const { Editor, GlobalState, KustoCode, Symbols } = globalThis.Kusto.Language;
const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
const tables = Object.entries(schema.tables).map(([name, columns]) =>
  Symbols.TableSymbol.From(`(${columns.map(([c, t]) => `['${c}']:${t}`).join(", ")})`).WithName(name),
);
const database = new Symbols.DatabaseSymbol.$ctor2("workspace", null, tables);
const globals = GlobalState.Default.WithDatabase(database);

const results = files.map((file) => {
  const text = readFileSync(file, "utf8");
  const code = KustoCode.ParseAndAnalyze(text, globals);
  const diagnostics = [];
  // The compiler's diagnostics (syntax, names, types), then its analyzers' advice (KS5xx).
  const advice = new Editor.KustoCodeService(code).GetAnalyzerDiagnostics(true);
  const lists = [code.GetDiagnostics(), advice];
  for (const found of lists) {
    for (let i = 0; i < found.Count; i++) {
      const d = found.getItem(i);
      const line = text.slice(0, d.Start).split("\n").length;
      diagnostics.push({ severity: d.Severity, code: d.Code, message: d.Message, line });
    }
  }
  return { file, diagnostics };
});
process.stdout.write(JSON.stringify(results));
