import assert from "node:assert/strict";
import { stateDirectory } from "../src/util/state_dir.ts";

Deno.test("state directory: XDG_STATE_HOME on Linux, else ~/.local/state", () => {
  assert.equal(
    stateDirectory({
      env: { XDG_STATE_HOME: "/x/state", HOME: "/h" },
      platform: "linux",
      home: "/o",
    }),
    "/x/state/dsys",
  );
  assert.equal(
    stateDirectory({ env: { HOME: "/h" }, platform: "linux", home: "/o" }),
    "/h/.local/state/dsys",
  );
  assert.equal(
    stateDirectory({ env: {}, platform: "freebsd", home: "/o" }),
    "/o/.local/state/dsys",
  );
});

Deno.test("state directory: %LOCALAPPDATA% on Windows, else the profile's AppData\\Local", () => {
  assert.equal(
    stateDirectory({
      env: { LOCALAPPDATA: "C:\\Users\\c\\AppData\\Local" },
      platform: "win32",
      home: "C:\\Users\\o",
    }),
    "C:\\Users\\c\\AppData\\Local\\dsys",
  );
  assert.equal(
    stateDirectory({
      env: { USERPROFILE: "C:\\Users\\c" },
      platform: "win32",
      home: "C:\\Users\\o",
    }),
    "C:\\Users\\c\\AppData\\Local\\dsys",
  );
});

Deno.test("state directory: ~/Library/Application Support on macOS, XDG not consulted", () => {
  assert.equal(
    stateDirectory({
      env: { HOME: "/Users/c", XDG_STATE_HOME: "/x" },
      platform: "darwin",
      home: "/o",
    }),
    "/Users/c/Library/Application Support/dsys",
  );
});
