"use strict";
// Max's classic js object is SpiderMonkey 1.8.5: the device script must parse as ES5.

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const acorn = require("acorn");
const { DEVICE_JS } = require("../harness/max_env.js");

const source = fs.readFileSync(DEVICE_JS, "utf8");

test("the device script parses as ECMAScript 5", () => {
    assert.doesNotThrow(() => acorn.parse(source, { ecmaVersion: 5, sourceType: "script" }));
});

test("the ES5 check rejects ES2015 syntax", () => {
    for (const snippet of ["let a = 1;", "var f = (x) => x;", "var s = `t`;", "const c = 2;"]) {
        assert.throws(() => acorn.parse(snippet, { ecmaVersion: 5 }), SyntaxError, snippet);
    }
});

test("the device script uses no ES2015 library methods Max's js lacks", () => {
    const code = source.replace(/\/\/.*$/gm, "");
    for (const method of [".includes(", ".startsWith(", ".endsWith(", ".find(", ".findIndex(", "Object.assign(",
        ".padStart(", ".repeat(\"", "Array.from(", "new Map(", "new Set(", "Promise"]) {
        assert.ok(!code.includes(method), `uses ${method}`);
    }
});
