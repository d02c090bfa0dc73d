// Helpers of tests/js: read the fixtures lalib wrote (tests/js/write_fixtures.py) and
// compare numbers with a tolerance. Not a test file itself (node --test runs *.test.js).

import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** The fixtures directory, from $LAMATH_FIXTURES (`make node` sets it). */
export const FIXTURES = resolve(process.env.LAMATH_FIXTURES || "_build/js-fixtures");

const SPECIAL = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

/** JSON has no NaN or infinity: the fixtures spell them "NaN", "Infinity", "-Infinity". */
export function decode(value) {
  if (typeof value === "string" && value in SPECIAL) return SPECIAL[value];
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
  }
  return value;
}

/** The cases of fixture `name` (FIXTURES/<name>.json), decoded. */
export function load(name) {
  const file = join(FIXTURES, `${name}.json`);
  if (!existsSync(file)) {
    throw new Error(`no fixture ${file}: run tests/js/write_fixtures.py ${FIXTURES} first (make node does)`);
  }
  const cases = decode(JSON.parse(readFileSync(file, "utf-8")));
  assert.ok(cases.length > 0, `${file} holds no cases`);
  return cases;
}

const shape = (a) => (Array.isArray(a) ? `(${a.length}${Array.isArray(a[0]) ? ", " + a[0].length : ""})` : typeof a);

/**
 * Assert that `actual` equals `expected` (numbers, booleans, nested arrays) within
 * |actual - expected| <= rtol * |expected| + atol. NaN must meet NaN and an infinity
 * the same infinity; -0 equals 0. `where` names the case in the failure message.
 */
export function assertClose(actual, expected, { rtol = 1e-12, atol = 0 } = {}, where = "") {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array ${shape(expected)}, got ${actual}`);
    assert.equal(actual.length, expected.length, `${where}: length ${actual.length}, expected ${expected.length}`);
    expected.forEach((e, i) => assertClose(actual[i], e, { rtol, atol }, `${where}[${i}]`));
    return;
  }
  if (typeof expected === "boolean") {
    assert.equal(actual, expected, `${where}: ${actual}, expected ${expected}`);
    return;
  }
  assert.equal(typeof actual, "number", `${where}: expected a number, got ${actual}`);
  if (Number.isNaN(expected) || !Number.isFinite(expected)) {
    assert.ok(Object.is(actual, expected) || (Number.isNaN(expected) && Number.isNaN(actual)),
      `${where}: ${actual}, expected ${expected}`);
    return;
  }
  const err = Math.abs(actual - expected);
  const tol = rtol * Math.abs(expected) + atol;
  assert.ok(err <= tol, `${where}: ${actual}, expected ${expected} (error ${err.toExponential(2)} > tolerance ${tol.toExponential(2)})`);
}
