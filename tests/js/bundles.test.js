// Every explorable's ES module, bundled as its widget class ships it
// (lalib.display.explorable.bundle, written by tests/js/write_fixtures.py), parses as
// one ES module and exports default an object with render(). The modules are found,
// not listed: each lalib/display/js/*.js with an `export default` is an explorable.
// The bundle shares one scope among the files it inlines, so a top-level name defined
// twice is a SyntaxError here, not a blank figure in the book.

import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { test } from "node:test";

import { FIXTURES } from "./fixtures.js";

const JS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "lalib", "display", "js");
const BUNDLES = join(FIXTURES, "bundles");

const explorables = readdirSync(JS_DIR)
  .filter((f) => f.endsWith(".js") && /^export\s+default\b/m.test(readFileSync(join(JS_DIR, f), "utf-8")))
  .sort();

test("the fixtures hold a bundle of every explorable module (rerun write_fixtures.py if not)", () => {
  const index = join(BUNDLES, "index.json");
  assert.ok(existsSync(index), `no ${index}: run tests/js/write_fixtures.py ${FIXTURES}`);
  assert.deepEqual(JSON.parse(readFileSync(index, "utf-8")), explorables);
});

for (const name of explorables) {
  test(`${name}: its bundle is an ES module exporting default { render }`, async () => {
    const file = join(BUNDLES, name.replace(/\.js$/, ".mjs"));
    const text = readFileSync(file, "utf-8");
    // the module is embedded in a <script> element of the page: "</" would end it early
    assert.ok(!text.includes("</"), `${name}: the bundle contains "</" (at ${text.indexOf("</")})`);
    const mod = await import(pathToFileURL(file).href);
    assert.equal(typeof mod.default, "object", `${name}: export default must be an object`);
    assert.ok(mod.default !== null, `${name}: export default is null`);
    assert.equal(typeof mod.default.render, "function", `${name}: export default has no render()`);
  });
}
