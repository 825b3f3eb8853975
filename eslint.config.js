import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import { defineConfig, globalIgnores } from "eslint/config"
import { builtinModules } from "node:module"
import tseslint from "typescript-eslint"

/**
 * Modelled on the Effect-TS/effect repository's `eslint.config.mjs` (v3 branch): ESLint and
 * typescript-eslint recommended rules (not type-aware, for speed), formatting by dprint through
 * `@effect/dprint`, and a purity block that turns the rules of STYLE.md for `packages/core/src` into
 * lint errors.
 */

const spreadInPush = {
  selector: "CallExpression[callee.property.name='push'] > SpreadElement.arguments",
  message: "Do not use spread arguments in Array.push"
}

const useClock = "core is pure: read the time from Clock (Clock.currentTimeMillis), so the TestClock drives it."
const useSchedule = "core is pure: use Effect.sleep, Schedule or Clock, so the TestClock drives every timing."
const useConfig = "core is pure: read settings with Config (Config.string, Config.redacted), never process.env."
const useRandom = "core is pure: use the Random service (Random.next, Random.nextIntBetween), not Math.random."
const useHttpClient =
  "core is pure: depend on the abstract HttpClient of @effect/platform; the runtime (undici, fetch) is chosen in @criteo-auth/platform."
const noRuntime =
  "core is pure: no Node.js or runtime-specific module. Use Clock, Config, Random, the abstract HttpClient, or move the code to @criteo-auth/platform."

/** Bare (unprefixed) Node.js built-in module names: `fs`, `path`, `fs/promises`, ... */
const nodeBuiltins = builtinModules.filter((name) => !name.startsWith("_"))

export default defineConfig(
  globalIgnores([
    "**/dist/**",
    "**/node_modules/**",
    "**/.tsbuildinfo/**",
    "**/coverage/**",
    "**/*.md",
    "reports/**",
    "fixtures/**",
    "docker/**"
  ]),
  js.configs.recommended,
  tseslint.configs.recommended,
  effectEslint.configs.dprint,
  {
    name: "criteo-auth/base",
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module"
    },
    linterOptions: {
      reportUnusedDisableDirectives: "error"
    },
    rules: {
      "no-fallthrough": "off",
      "no-irregular-whitespace": "off",
      "object-shorthand": "error",
      "prefer-destructuring": "off",
      "sort-imports": "off",
      "no-restricted-syntax": ["error", spreadInPush],
      "no-unused-vars": "off",
      "require-yield": "off",
      "prefer-rest-params": "off",
      "prefer-spread": "off",

      "@typescript-eslint/array-type": ["error", { default: "generic", readonly: "generic" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrorsIgnorePattern: "^_",
          destructuredArrayIgnorePattern: "^_",
          ignoreRestSiblings: true
        }
      ],
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@typescript-eslint/no-unsafe-function-type": "off",
      "@typescript-eslint/no-wrapper-object-types": "off",
      "@typescript-eslint/ban-ts-comment": "off",
      "@typescript-eslint/no-array-constructor": "off",
      "@typescript-eslint/no-use-before-define": "off",
      "@typescript-eslint/no-namespace": "off",

      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    name: "criteo-auth/packages",
    files: ["packages/*/src/**/*", "packages/*/test/**/*"],
    rules: {
      "no-console": "error"
    }
  },
  {
    name: "criteo-auth/src",
    files: ["packages/*/src/**/*"],
    rules: {
      "@effect/no-import-from-barrel-package": [
        "error",
        { packageNames: ["effect", "@effect/platform", "@effect/platform-node", "@effect/cli"] }
      ]
    }
  },
  {
    name: "criteo-auth/test",
    files: ["packages/*/test/**/*"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off"
    }
  },
  {
    // core depends on effect and the abstract HttpClient of @effect/platform only (STYLE.md).
    name: "criteo-auth/core-purity",
    files: ["packages/core/src/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            ...nodeBuiltins.map((name) => ({ name, message: noRuntime })),
            { name: "@effect/platform/FetchHttpClient", message: useHttpClient },
            { name: "@effect/platform", importNames: ["FetchHttpClient"], message: useHttpClient },
            { name: "undici", message: useHttpClient },
            { name: "testcontainers", message: noRuntime }
          ],
          patterns: [
            { group: ["node:*"], message: noRuntime },
            { group: ["@effect/platform-node", "@effect/platform-node/**"], message: useHttpClient },
            { group: ["@effect/platform-node-shared", "@effect/platform-node-shared/**"], message: useHttpClient },
            { group: ["@effect/platform-bun*", "@effect/platform-bun*/**"], message: useHttpClient },
            { group: ["@effect/platform-browser", "@effect/platform-browser/**"], message: useHttpClient },
            { group: ["undici/**"], message: useHttpClient },
            { group: ["testcontainers/**", "@testcontainers/*"], message: noRuntime }
          ]
        }
      ],
      "no-restricted-globals": [
        "error",
        { name: "process", message: useConfig },
        { name: "setTimeout", message: useSchedule },
        { name: "setInterval", message: useSchedule },
        { name: "setImmediate", message: useSchedule },
        { name: "clearTimeout", message: useSchedule },
        { name: "clearInterval", message: useSchedule },
        { name: "performance", message: useClock },
        { name: "fetch", message: useHttpClient },
        { name: "Buffer", message: "core is pure: use Uint8Array, TextEncoder or effect/Encoding instead of Buffer." }
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: useClock },
        { object: "process", property: "env", message: useConfig },
        { object: "globalThis", property: "process", message: useConfig },
        { object: "globalThis", property: "setTimeout", message: useSchedule },
        { object: "globalThis", property: "setInterval", message: useSchedule },
        { object: "globalThis", property: "fetch", message: useHttpClient },
        { object: "globalThis", property: "Buffer", message: noRuntime }
      ],
      "no-restricted-syntax": [
        "error",
        spreadInPush,
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: useClock },
        { selector: "CallExpression[callee.type='Identifier'][callee.name='Date']", message: useClock },
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: useRandom },
        { selector: "ImportExpression[source.value=/^node:/]", message: noRuntime }
      ]
    }
  },
  {
    name: "criteo-auth/adapters",
    // conformance adapters are plain Node.js programs (no build step) that print protocol lines on stdout
    files: ["packages/conformance/adapters/**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        fetch: "readonly",
        AbortSignal: "readonly",
        URLSearchParams: "readonly",
        setTimeout: "readonly"
      }
    },
    rules: {
      "no-console": "off"
    }
  },
  {
    name: "criteo-auth/bins-and-scripts",
    // the executables' entry points and the build/pack scripts: plain Node.js, run before any build
    files: ["packages/*/bin/**/*.mjs", "packages/*/scripts/**/*.mjs", "scripts/**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", console: "readonly", URL: "readonly" }
    },
    rules: {
      "no-console": "off"
    }
  }
)
