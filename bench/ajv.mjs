// ajv.mjs times ajv on the JSON Schema the engine exports, validating the
// same document the Go side validates. Usage:
//
//	node ajv.mjs schema.json document.json
//
// It prints one line, "ajv <ns per validation> ns/op", the best of
// several timed rounds after a warm-up.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [schemaFile, docFile] = process.argv.slice(2);
if (!schemaFile || !docFile) {
  console.error("usage: node ajv.mjs schema.json document.json");
  process.exit(2);
}
const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
const doc = JSON.parse(readFileSync(docFile, "utf8"));

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);
if (!validate(doc)) {
  console.error("ajv: document invalid:", JSON.stringify(validate.errors));
  process.exit(1);
}

// Warm up so that the JIT has compiled the validator, then take the best
// of several rounds: the least disturbed measurement.
const iterations = 20000;
let sink = 0;
for (let i = 0; i < iterations; i++) sink += validate(doc) ? 1 : 0;
let best = Infinity;
for (let round = 0; round < 60; round++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += validate(doc) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  best = Math.min(best, ns);
}
if (sink !== iterations * 61) {
  console.error("ajv: the document stopped being valid");
  process.exit(1);
}
console.log(`ajv ${best.toFixed(1)} ns/op`);
