#!/usr/bin/env node
// Validates Kubernetes manifests against the official OpenAPI schemas, as bundled (compiled to
// JSON-schema validators) by the npm package kubernetes-models.
//
//   node tests/schema/validate_manifests.mjs [--self-test] FILE...
//
// FILE is multi-document YAML ("---" separated) or JSON (one object or a v1 List with items).
// YAML is read with YAML 1.1 rules, as Kubernetes reads it (sigs.k8s.io/yaml), so an unquoted
// `true` or `0755` meant as a string is caught as a type error. Every object must have a known
// apiVersion/kind and pass its schema. Exits 0 when all pass, 1 with the errors otherwise.
//
// --self-test first checks that deliberately broken manifests FAIL (a validator that cannot fail
// proves nothing) and that a minimal good one passes.
//
// Limits: the OpenAPI schemas do not forbid unknown fields, so a misspelt optional field passes
// here (the C++ golden and behavioural tests pin the field names).
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";

const GROUPS = { v1: core, "apps/v1": apps };

// The model class for an object, or an error message.
function modelFor(obj) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return "not an object";
  const group = GROUPS[obj.apiVersion];
  if (!group) return `unknown apiVersion ${JSON.stringify(obj.apiVersion)}`;
  const Model = typeof obj.kind === "string" ? group[obj.kind] : undefined;
  if (typeof Model !== "function" || typeof Model.prototype?.validate !== "function") {
    return `unknown kind ${JSON.stringify(obj.kind)} in ${obj.apiVersion}`;
  }
  return Model;
}

// Returns a list of error strings for one object (empty = valid).
export function validateObject(obj) {
  const Model = modelFor(obj);
  if (typeof Model === "string") return [Model];
  try {
    new Model(obj).validate();
    return [];
  } catch (e) {
    return [String(e && e.message ? e.message : e)];
  }
}

// The objects of a file's text (YAML or JSON; a v1 List is unpacked).
export function parseObjects(text, name) {
  let objects;
  if (name.endsWith(".json")) {
    const doc = JSON.parse(text);
    objects = doc && doc.kind === "List" && Array.isArray(doc.items) ? doc.items : [doc];
  } else {
    objects = [];
    for (const doc of parseAllDocuments(text, { version: "1.1", uniqueKeys: true })) {
      if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors[0].message}`);
      const value = doc.toJS();
      if (value !== null && value !== undefined) objects.push(value);
    }
  }
  return objects;
}

function describe(obj) {
  const kind = obj && obj.kind ? obj.kind : "?";
  const meta = obj && obj.metadata && obj.metadata.name ? obj.metadata.name : "?";
  return `${kind}/${meta}`;
}

export function validateText(text, name) {
  const errors = [];
  let objects;
  try {
    objects = parseObjects(text, name);
  } catch (e) {
    return { count: 0, errors: [`${name}: ${e.message}`] };
  }
  if (objects.length === 0) errors.push(`${name}: no objects`);
  objects.forEach((obj, i) => {
    for (const err of validateObject(obj)) errors.push(`${name}: object ${i} (${describe(obj)}): ${err}`);
  });
  return { count: objects.length, errors };
}

function selfTest() {
  const good = () => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", labels: { "br2k.io/worker": "true" } },
    spec: { restartPolicy: "Always", containers: [{ name: "app", image: "x@sha256:00" }] },
  });
  const broken = {
    "container without name": (o) => delete o.spec.containers[0].name,
    "restartPolicy Sometimes": (o) => (o.spec.restartPolicy = "Sometimes"),
    "label value not a string": (o) => (o.metadata.labels["br2k.io/worker"] = true),
    "containerPort a string": (o) => (o.spec.containers[0].ports = [{ containerPort: "app" }]),
    "no containers": (o) => delete o.spec.containers,
    "unknown kind": (o) => (o.kind = "Pdo"),
  };
  const failures = [];
  const ok = validateObject(good());
  if (ok.length !== 0) failures.push(`the good Pod fails: ${ok.join("; ")}`);
  for (const [what, mutate] of Object.entries(broken)) {
    const o = good();
    mutate(o);
    if (validateObject(o).length === 0) failures.push(`broken manifest passes: ${what}`);
  }
  // YAML 1.1 reading: an unquoted true where Kubernetes wants a string must fail.
  const yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    on: yes\n" +
    "spec:\n  containers:\n  - name: app\n    image: i\n";
  if (validateText(yaml, "self-test.yaml").errors.length === 0) {
    failures.push("unquoted YAML 1.1 boolean label value passes");
  }
  const service = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: \"80\"\n";
  if (validateText(service, "self-test.yaml").errors.length === 0) {
    failures.push("Service port given as a string passes");
  }
  return failures;
}

function main(argv) {
  const args = argv.slice(2);
  let status = 0;
  if (args[0] === "--self-test") {
    args.shift();
    const failures = selfTest();
    for (const f of failures) console.error(`self-test: ${f}`);
    if (failures.length > 0) return 1;
    console.log("self-test: broken manifests are rejected");
  }
  if (args.length === 0 && status === 0) {
    console.error("usage: validate_manifests.mjs [--self-test] FILE...");
    return argv.includes("--self-test") ? 0 : 2;
  }
  for (const file of args) {
    const { count, errors } = validateText(readFileSync(file, "utf8"), file);
    for (const e of errors) console.error(e);
    if (errors.length > 0) status = 1;
    else console.log(`${file}: ${count} objects valid`);
  }
  return status;
}

process.exitCode = main(process.argv);
