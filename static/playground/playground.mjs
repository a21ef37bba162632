// GraphConv Lab: the Playground's answers computed in the visitor's browser with onnxruntime-web.
//
// One ES module, imported by the Playground's components (ui/draw_canvas.py, ui/playground_component.py) at one URL
// (ui/browser_models.engine_url(): the file's hash in the query), so they share one instance: the runtime, the runs'
// inference sessions and the digit being answered. It holds:
//   - the digit: a drawing prepared exactly as core.data.image_io.mnist_digit prepares it (Pillow's Lanczos resize,
//     the centre of mass shifted by whole pixels) and put on the link's 16 grey levels (quantize_digit,
//     encode_digit_link), so that the server decodes the very digit the browser answers;
//   - turning: core.analysis.equivariance.Element.apply (mirror left-right, then rotate counter-clockwise:
//     torch.rot90 for multiples of 90 degrees, else core/data/transforms.py _rotate_bilinear, float32 as torch);
//   - the runtime: static/ort/ (onnxruntime-web, wasm, one thread, no proxy worker), its files and the runs' models
//     kept in Cache Storage under their sha256, so a return visit downloads nothing;
//   - the engine: every run's probabilities for the digit as given and turned, the answer at every sweep angle (one
//     batch per run), the chosen run's layer maps, computed one inference at a time, newest request first;
//   - the views the components mount: the every-angle plot, the rotation slider with the turned digit and its bars,
//     the layer maps; each writes its figures into data- attributes for tests and benchmarks.
// Everything that comes from the page's data is drawn with textContent, never parsed as HTML.

const f32 = Math.fround;
export const FRAME = 28;
export const BOX = 20;
export const LEVELS = 16;
export const LINK_CHARS = 523;
const INK = f32(0.05);
const N = FRAME * FRAME;

// ------------------------------------------------------------------------------------------------ numbers as Python
/** Python's round() and numpy's rint: halves go to the even neighbour. */
export function roundHalfEven(x) {
  if (Math.abs(x % 1) === 0.5) return 2 * Math.round(x / 2);
  return Math.round(x);
}

/** numpy's pairwise summation (as np.add.reduce of a contiguous array), each addition rounded by `round`. */
function pairwise(a, lo, n, round) {
  if (n < 8) {
    let res = round(0);
    for (let i = 0; i < n; i++) res = round(res + a[lo + i]);
    return res;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(a[lo + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[lo + i + j]);
    let res = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) res = round(res + a[lo + i]);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwise(a, lo, n2, round) + pairwise(a, lo + n2, n - n2, round));
}
const sum32 = (a) => f32(0 + pairwise(a, 0, a.length, f32));
const sum64 = (a) => 0 + pairwise(a, 0, a.length, (x) => x);

// ------------------------------------------------------------------------------------------------ a drawing -> digit
/** A canvas's RGBA pixels (H x W) -> its ink, Float32Array (H*W) in [0, 1], as core.data.image_io.ink reads the PNG:
 * composited onto opaque black (Pillow's alpha_composite), to grey (Pillow's L = 299/587/114 per mille), / 255, and
 * inverted when the mean is above 0.5 (dark ink on a light background). */
export function inkOf(rgba, H, W) {
  const n = H * W;
  const g = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = rgba[4 * i + 3];
    let r = 0;
    let gg = 0;
    let b = 0;
    if (a !== 0) {
      // ImagingAlphaComposite over (0, 0, 0, 255): coef1 = a*255*255*128 / (255*255) = 128 a (7 bits of precision)
      const coef1 = Math.floor((a * 255 * 255 * 128) / (a * 255 + 255 * (255 - a)));
      const div = (v) => ((((v + (0x80 << 7)) >> 8) + v + (0x80 << 7)) >> 8) >> 7;
      r = div(rgba[4 * i] * coef1);
      gg = div(rgba[4 * i + 1] * coef1);
      b = div(rgba[4 * i + 2] * coef1);
    }
    const l = (r * 19595 + gg * 38470 + b * 7471 + 0x8000) >> 16;
    g[i] = f32(l / 255);
  }
  if (f32(sum32(g) / n) > 0.5) for (let i = 0; i < n; i++) g[i] = f32(1 - g[i]);
  return g;
}

function sinc(x) {
  if (x === 0) return 1;
  const y = x * Math.PI;
  return Math.sin(y) / y;
}
const lanczos = (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0);

/** Pillow's precompute_coeffs (Resample.c) for a Lanczos resize of inSize pixels to outSize. */
function coeffs(inSize, outSize) {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 3 * filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = [];
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = lanczos((x + xmin - center + 0.5) * ss);
      k.push(w);
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    out.push({ xmin, k });
  }
  return out;
}

/** Pillow's Image.resize((nw, nh), LANCZOS) of a mode "F" image (h x w, Float32Array): the horizontal pass (over the
 * rows the vertical pass reads), then the vertical one, each sum in double and stored as float32. */
export function resizeLanczos(src, h, w, nh, nw) {
  if (nh === h && nw === w) return Float32Array.from(src);
  let img = src;
  let iw = w;
  const vert = coeffs(h, nh);
  let first = 0;
  let rows = h;
  if (nw !== w) {
    first = vert[0].xmin;
    const last = vert[nh - 1].xmin + vert[nh - 1].k.length;
    rows = last - first;
    const horiz = coeffs(w, nw);
    const tmp = new Float32Array(rows * nw);
    for (let y = 0; y < rows; y++) {
      for (let xx = 0; xx < nw; xx++) {
        const { xmin, k } = horiz[xx];
        let ss = 0;
        for (let x = 0; x < k.length; x++) ss += img[(y + first) * iw + x + xmin] * k[x];
        tmp[y * nw + xx] = ss;
      }
    }
    img = tmp;
    iw = nw;
  }
  if (nh === h) return Float32Array.from(img);
  const out = new Float32Array(nh * iw);
  for (let yy = 0; yy < nh; yy++) {
    const { xmin, k } = vert[yy];
    const ymin = xmin - first;
    for (let xx = 0; xx < iw; xx++) {
      let ss = 0;
      for (let y = 0; y < k.length; y++) ss += img[(y + ymin) * iw + xx] * k[y];
      out[yy * iw + xx] = ss;
    }
  }
  return out;
}

/** core.data.image_io.mnist_digit: ink (H x W, [0, 1]) -> (28 x 28) Float32Array: the ink's box resized so its
 * longer side is 20, pasted in the middle of 28 x 28, shifted by whole pixels so its centre of mass is at
 * (13.5, 13.5) (the box kept inside the frame). No ink: all zeros. */
export function mnistDigit(gray, H, W) {
  const img = new Float32Array(H * W);
  for (let i = 0; i < H * W; i++) img[i] = Math.min(Math.max(gray[i], 0), 1);
  let r0 = -1;
  let r1 = -1;
  let c0 = W;
  let c1 = -1;
  for (let r = 0; r < H; r++) {
    for (let c = 0; c < W; c++) {
      if (img[r * W + c] > INK) {
        if (r0 < 0) r0 = r;
        r1 = r;
        if (c < c0) c0 = c;
        if (c > c1) c1 = c;
      }
    }
  }
  const frame = new Float32Array(N);
  if (r0 < 0) return frame;
  const h = r1 - r0 + 1;
  const w = c1 - c0 + 1;
  const crop = new Float32Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) crop[r * w + c] = img[(r + r0) * W + c + c0];
  const scale = BOX / Math.max(h, w);
  const nh = Math.max(1, roundHalfEven(h * scale));
  const nw = Math.max(1, roundHalfEven(w * scale));
  const small = resizeLanczos(crop, h, w, nh, nw);
  const top = Math.floor((FRAME - nh) / 2);
  const left = Math.floor((FRAME - nw) / 2);
  for (let r = 0; r < nh; r++) {
    for (let c = 0; c < nw; c++) frame[(top + r) * FRAME + left + c] = Math.min(Math.max(small[r * nw + c], 0), 1);
  }
  const mass = sum32(frame);
  if (!(mass > 0)) return frame;
  const rw = new Float64Array(N);
  const cw = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    rw[i] = Math.floor(i / FRAME) * frame[i];
    cw[i] = (i % FRAME) * frame[i];
  }
  let dr = roundHalfEven((FRAME - 1) / 2 - sum64(rw) / mass);
  let dc = roundHalfEven((FRAME - 1) / 2 - sum64(cw) / mass);
  dr = Math.min(Math.max(dr, -top), FRAME - nh - top);
  dc = Math.min(Math.max(dc, -left), FRAME - nw - left);
  const out = new Float32Array(N);
  for (let r = 0; r < FRAME; r++) {
    for (let c = 0; c < FRAME; c++) {
      out[(((r + dr) % FRAME) + FRAME) % FRAME * FRAME + ((((c + dc) % FRAME) + FRAME) % FRAME)] = frame[r * FRAME + c];
    }
  }
  return out;
}

/** quantize_digit's grey levels: (28 x 28) in [0, 1] -> Uint8Array of 0..15 (NaN counts as 0). */
export function levelsOf(digit) {
  const out = new Uint8Array(N);
  for (let i = 0; i < N; i++) {
    const v = Number.isNaN(digit[i]) ? 0 : Math.min(Math.max(digit[i], 0), 1);
    out[i] = roundHalfEven(f32(v * (LEVELS - 1)));
  }
  return out;
}

/** The levels as the digit a link reopens: level / 15 in float32. */
export function digitOfLevels(levels) {
  const out = new Float32Array(N);
  for (let i = 0; i < N; i++) out[i] = f32(levels[i] / f32(LEVELS - 1));
  return out;
}

/** encode_digit_link: two pixels a byte (high nibble first), base64url without padding: LINK_CHARS characters. */
export function encodeLink(levels) {
  let bin = "";
  for (let i = 0; i < N; i += 2) bin += String.fromCharCode((levels[i] << 4) | levels[i + 1]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A canvas's pixels -> {digit (28 x 28 on the link's levels), code (the link's pg_ink)}; null when there is no ink
 * or the canvas is larger than maxPixels (the server refuses such a drawing, from its PNG, with one line). */
export function prepareDrawing(rgba, H, W, maxPixels) {
  if (maxPixels && H * W > maxPixels) return null;
  const levels = levelsOf(mnistDigit(inkOf(rgba, H, W), H, W));
  if (!levels.some((v) => v > 0)) return null;
  return { digit: digitOfLevels(levels), code: encodeLink(levels) };
}

// ------------------------------------------------------------------------------------------------ turning a digit
function flipColumns(x) {
  const out = new Float32Array(N);
  for (let r = 0; r < FRAME; r++) for (let c = 0; c < FRAME; c++) out[r * FRAME + c] = x[r * FRAME + FRAME - 1 - c];
  return out;
}

/** torch.rot90(x, k, dims=(-2, -1)): counter-clockwise quarter turns. */
function rot90(x, k) {
  const out = new Float32Array(N);
  const L = FRAME - 1;
  for (let i = 0; i < FRAME; i++) {
    for (let j = 0; j < FRAME; j++) {
      let v;
      if (k === 1) v = x[j * FRAME + L - i];
      else if (k === 2) v = x[(L - i) * FRAME + L - j];
      else if (k === 3) v = x[(L - j) * FRAME + i];
      else v = x[i * FRAME + j];
      out[i * FRAME + j] = v;
    }
  }
  return out;
}

const DEG = 0.017453292519943295769236907684886127134428718885417; // torch.deg2rad's factor
// affine_grid's base grid (align_corners=False): torch.linspace(-1, 1, 28) * 27 / 28, in float32
const BASE = (() => {
  const step = f32(2 / (FRAME - 1));
  const half = Math.floor(FRAME / 2);
  const out = new Float32Array(FRAME);
  for (let i = 0; i < FRAME; i++) {
    const lin = i < half ? f32(-1 + f32(step * i)) : f32(1 - f32(step * (FRAME - 1 - i)));
    out[i] = f32(f32(lin * (FRAME - 1)) / FRAME);
  }
  return out;
})();

/** _rotate_bilinear: F.affine_grid + F.grid_sample (bilinear, zero padding, align_corners=False), float32. */
function rotateBilinear(x, angle) {
  const t = angle * DEG;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const t00 = f32(c);
  const t01 = f32((-s * FRAME) / FRAME);
  const t10 = f32((s * FRAME) / FRAME);
  const t11 = f32(c);
  const out = new Float32Array(N);
  const at = (r, col) => (r >= 0 && r < FRAME && col >= 0 && col < FRAME ? x[r * FRAME + col] : 0);
  for (let i = 0; i < FRAME; i++) {
    for (let j = 0; j < FRAME; j++) {
      const xn = BASE[j];
      const yn = BASE[i];
      const gx = f32(f32(xn * t00) + f32(yn * t01));
      const gy = f32(f32(xn * t10) + f32(yn * t11));
      const ix = f32(f32(f32(f32(gx + 1) * FRAME) - 1) / 2);
      const iy = f32(f32(f32(f32(gy + 1) * FRAME) - 1) / 2);
      const x0 = Math.floor(ix);
      const y0 = Math.floor(iy);
      const w = f32(ix - x0);
      const e = f32(1 - w);
      const n = f32(iy - y0);
      const so = f32(1 - n);
      let v = f32(at(y0, x0) * f32(so * e));
      v = f32(v + f32(at(y0, x0 + 1) * f32(so * w)));
      v = f32(v + f32(at(y0 + 1, x0) * f32(n * e)));
      v = f32(v + f32(at(y0 + 1, x0 + 1) * f32(n * w)));
      out[i * FRAME + j] = v;
    }
  }
  return out;
}

/** core.analysis.playground.turn: the (28 x 28) digit mirrored left-right when `mirror`, then turned `angle`
 * degrees counter-clockwise about its centre (exact for multiples of 90). */
export function turn(digit, angle, mirror) {
  let x = Float32Array.from(digit, (v) => Math.min(Math.max(v, 0), 1));
  if (mirror) x = flipColumns(x);
  const a = ((Number(angle) % 360) + 360) % 360;
  if (a === 0) return x;
  const q = a / 90;
  if (Math.abs(q - Math.round(q)) * 90 <= 1e-9) return rot90(x, ((roundHalfEven(q) % 4) + 4) % 4);
  return rotateBilinear(x, a);
}

// ------------------------------------------------------------------------------------------------ runtime and models
class Unavailable extends Error {}

async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) return null; // only in a secure context (https, localhost)
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

const stats = { fetched: 0, fromCache: 0, bytes: 0 };
export const loadStats = stats;

/** The bytes at `file.url` (relative to the page), from Cache Storage `cacheName` when it holds them under
 * file.sha256, else from the server (checked against the sum when the page can hash, then kept). */
async function cachedBytes(file, cacheName) {
  const url = new URL(file.url, document.baseURI);
  const key = new URL(`${url.pathname}?sha256=${file.sha256}`, url).href;
  let cache = null;
  try {
    cache = globalThis.caches ? await caches.open(cacheName) : null; // none outside a secure context
  } catch {
    cache = null;
  }
  if (cache) {
    const hit = await cache.match(key);
    if (hit) {
      stats.fromCache += 1;
      return hit.arrayBuffer();
    }
  }
  const resp = await fetch(url);
  if (!resp.ok) throw new Unavailable(`${url.pathname.split("/").pop()} did not load (HTTP ${resp.status})`);
  const bytes = await resp.arrayBuffer();
  stats.fetched += 1;
  stats.bytes += bytes.byteLength;
  const got = await sha256Hex(bytes);
  if (got !== null && got !== file.sha256) throw new Unavailable(`${url.pathname.split("/").pop()} is corrupt`);
  if (cache) {
    try {
      await cache.put(key, new Response(bytes.slice(0), { headers: { "content-type": "application/octet-stream" } }));
      for (const old of await cache.keys()) {
        // another version of the same file: the sums say which is current
        const u = new URL(old.url);
        if (u.pathname === url.pathname && u.searchParams.get("sha256") !== file.sha256) await cache.delete(old);
      }
    } catch {
      // a full or refused cache: the page still has the bytes
    }
  }
  return bytes;
}

const MODEL_CACHE = "graphconv-models";
const KEEP_MODELS = 24; // models kept in the browser's cache; the oldest go first

async function trimModelCache() {
  try {
    const cache = await caches.open(MODEL_CACHE);
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - KEEP_MODELS))) await cache.delete(old);
  } catch {
    // nothing to trim
  }
}

let ortPromise = null;

/** onnxruntime-web from static/ort/, loaded once per page: the bundle imported from its bytes, the wasm inflated and
 * handed over (ort.env.wasm.wasmBinary), one thread, no proxy worker. Rejects with a one-line reason. */
export function runtime(spec) {
  if (!ortPromise) ortPromise = loadRuntime(spec);
  return ortPromise;
}

async function loadRuntime(spec) {
  if (typeof WebAssembly === "undefined") throw new Unavailable("this browser runs no WebAssembly");
  if (typeof DecompressionStream === "undefined") throw new Unavailable("this browser cannot inflate gzip");
  try {
    const [src, gz] = await Promise.all([
      cachedBytes(spec.bundle, "graphconv-ort"),
      cachedBytes(spec.wasm_gz, "graphconv-ort"),
    ]);
    const inflated = new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"));
    const wasm = await new Response(inflated).arrayBuffer();
    const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
    let ort;
    try {
      ort = await import(/* webpackIgnore: true */ url);
    } finally {
      URL.revokeObjectURL(url);
    }
    ort.env.wasm.wasmBinary = wasm;
    ort.env.wasm.numThreads = 1; // a Streamlit page is not cross-origin isolated: no SharedArrayBuffer
    ort.env.wasm.proxy = false;
    ort.env.logLevel = "error";
    return ort;
  } catch (err) {
    if (err instanceof Unavailable) throw err;
    throw new Unavailable(`the in-browser runtime did not load (${err?.message || err})`);
  }
}

const sessions = new Map(); // sha256 -> Promise<InferenceSession>

function session(ort, model) {
  if (!sessions.has(model.sha256)) {
    const made = (async () => {
      let bytes;
      try {
        bytes = await cachedBytes(model, MODEL_CACHE);
      } catch (err) {
        throw new Unavailable(`run ${model.label}'s model did not load in your browser (${err.message})`);
      }
      trimModelCache();
      try {
        return await ort.InferenceSession.create(new Uint8Array(bytes), {
          executionProviders: ["wasm"],
          graphOptimizationLevel: "all",
        });
      } catch (err) {
        throw new Unavailable(`run ${model.label}'s model does not run in your browser (${err?.message || err})`);
      }
    })();
    sessions.set(model.sha256, made);
    made.catch(() => sessions.delete(model.sha256));
  }
  return sessions.get(model.sha256);
}

let queue = Promise.resolve();
/** One inference at a time (a wasm session runs one call at a time; so does this page). */
function serial(job) {
  const done = queue.then(job, job);
  queue = done.catch(() => {});
  return done;
}

async function infer(ort, sess, images, fetch) {
  const batch = images.length;
  const flat = new Float32Array(batch * N);
  images.forEach((img, i) => flat.set(img, i * N));
  const feeds = { image: new ort.Tensor("float32", flat, [batch, 1, FRAME, FRAME]) };
  return serial(() => sess.run(feeds, fetch));
}

// ------------------------------------------------------------------------------------------------ the engine
const SWEEP_CHUNK = 12; // sweep angles a run answers in one call
const E = {
  sweepWork: null,
  spec: null,
  models: [],
  modelsKey: "",
  angles: [],
  mirror: false,
  digit: null,
  key: "",
  angle: 0,
  inside: null,
  dataKey: undefined,
  dataInside: undefined,
  t0: null,
  given: null,
  turned: null,
  sweep: null,
  maps: null,
  status: "idle",
  why: "",
  ms: null,
  sweepMs: null,
  count: 0,
  running: false,
  dirty: false,
};
export const engine = E;
const listeners = new Set();

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(what) {
  for (const fn of [...listeners]) {
    try {
      fn(what);
    } catch (err) {
      console.error("graphconv playground view", err);
    }
  }
}

const runsKey = () => `${E.modelsKey}|${E.mirror ? 1 : 0}`;
const now = () => performance.now();

/** The page's data for the views: the runtime, the runs' models, the sweep angles, mirror; the digit (its key and
 * pixels, or null) and the run whose layers are shown, each applied only when Python's value changed (a newer stroke
 * in this page is not undone by a rerun that started before it). The angle is the turned view's (setAngle). */
export function configure(data) {
  let changed = false;
  if (data.runtime && !E.spec) {
    E.spec = data.runtime;
    changed = true;
  }
  if (Array.isArray(data.models)) {
    const key = data.models.map((m) => `${m.id}:${m.sha256}`).join(",");
    if (key !== E.modelsKey) {
      E.models = data.models;
      E.modelsKey = key;
      changed = true;
    }
  }
  if (Array.isArray(data.angles) && data.angles.join() !== E.angles.join()) {
    E.angles = data.angles.map(Number);
    E.sweep = null;
    changed = true;
  }
  if (typeof data.mirror === "boolean" && data.mirror !== E.mirror) {
    E.mirror = data.mirror;
    changed = true;
  }
  if ("key" in data && data.key !== E.dataKey) {
    E.dataKey = data.key;
    if (data.key !== E.key) {
      E.key = data.key || "";
      E.digit = data.key && Array.isArray(data.pixels) && data.pixels.length === N ? Float32Array.from(data.pixels) : null;
      E.t0 = now();
      changed = true;
    }
  }
  if ("inside" in data && data.inside !== E.dataInside) {
    E.dataInside = data.inside;
    if (data.inside !== E.inside) {
      E.inside = data.inside;
      changed = true;
    }
  }
  if (changed) refresh();
}

/** A digit from this page (a stroke): answered at once; t0 is when the stroke ended. null: the canvas was cleared. */
export function setDigit(digit, key, t0) {
  E.digit = digit;
  E.key = digit ? key : "";
  E.t0 = t0 ?? now();
  refresh();
}

/** The slider moved (t0: when). */
export function setAngle(angle, t0) {
  E.angle = angle;
  E.t0 = t0 ?? now();
  refresh();
}

/** Compute whatever the current digit, angle, mirror and runs still lack; called again while running, it runs
 * once more when the current pass ends (the newest request is the one answered). */
export async function refresh() {
  if (E.running) {
    E.dirty = true;
    return;
  }
  E.running = true;
  try {
    do {
      E.dirty = false;
      await pass();
    } while (E.dirty);
  } catch (err) {
    E.status = "failed";
    E.why = err instanceof Unavailable ? err.message : `the in-browser answers failed (${err?.message || err})`;
    emit("status");
  } finally {
    E.running = false;
    emit("idle");
  }
}

/** Resolves when the answers asked for last are painted (or nothing is being computed), at most `limitMs` later. */
export function settled(limitMs) {
  if (!E.running) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      resolve();
    };
    const timer = setTimeout(done, limitMs);
    const off = subscribe((what) => (what === "timing" || what === "idle" || what === "status") && done());
  });
}

function fresh(result, extra = {}) {
  if (!result || result.key !== E.key || result.runs !== runsKey()) return false;
  return Object.entries(extra).every(([k, v]) => result[k] === v);
}

async function pass() {
  if (!E.spec || !E.models.length || !listeners.size) return; // no view on this page (another page's canvas)
  if (E.status !== "ready") {
    E.status = "loading";
    emit("status");
  }
  const ort = await runtime(E.spec);
  const models = E.models;
  const sess = await Promise.all(models.map((m) => session(ort, m)));
  if (E.status !== "ready") {
    E.status = "ready";
    emit("status");
  }
  if (!E.digit) {
    E.given = E.turned = E.sweep = E.maps = null;
    emit("answers");
    emit("sweep");
    emit("maps");
    return;
  }
  const digit = E.digit;
  const key = E.key;
  const angle = E.angle;
  const inside = E.inside;
  const runs = runsKey();
  const needGiven = !fresh(E.given);
  const needTurned = !fresh(E.turned, { angle });
  const insideModel = models.find((m) => m.id === inside && m.maps?.length);
  const needMaps = !!insideModel && !fresh(E.maps, { angle, inside });
  if (needGiven || needTurned || needMaps) {
    const given = {};
    const turned = {};
    let layers = null;
    const upright = turn(digit, 0, E.mirror);
    const turnedImg = turn(digit, angle, E.mirror);
    const atZero = angle % 360 === 0; // at 0 degrees the turned digit is the digit as given
    for (let i = 0; i < models.length; i++) {
      const m = models[i];
      const wantMaps = needMaps && m === insideModel;
      const wantTurned = !atZero && (needTurned || wantMaps);
      const images = [];
      if (needGiven || (atZero && needTurned)) images.push(upright);
      if (wantTurned) images.push(turnedImg);
      if (!images.length && wantMaps) images.push(upright);
      if (!images.length) continue;
      const fetch = ["probabilities", ...(wantMaps ? m.maps.map((x) => x.output) : [])];
      const out = await infer(ort, sess[i], images, fetch);
      const p = out.probabilities.data;
      if (images[0] === upright) given[m.id] = Float32Array.from(p.subarray(0, 10));
      if (wantTurned) turned[m.id] = Float32Array.from(p.subarray((images.length - 1) * 10, images.length * 10));
      if (wantMaps) {
        layers = m.maps.map((info) => {
          const t = out[info.output];
          const [b, c, h, w] = t.dims;
          const size = c * h * w;
          return { ...info, c, h, w, data: Float32Array.from(t.data.subarray((b - 1) * size, b * size)) };
        });
      }
      if (E.key !== key || E.angle !== angle || runsKey() !== runs) return; // a newer request: the next pass
    }
    if (needGiven) E.given = { key, runs, probs: given };
    if (needTurned) E.turned = { key, runs, angle, probs: atZero ? given : turned };
    if (needMaps) E.maps = { key, runs, angle, inside, layers, model: insideModel };
    emit("answers");
    const t0 = E.t0;
    await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))); // painted
    if (t0 !== null && (needGiven || needTurned)) {
      E.ms = now() - t0;
      E.count += 1;
      E.t0 = null;
      emit("timing");
    }
    if (needMaps) emit("maps");
  }
  if (!fresh(E.sweep) && E.angles.length) {
    // in chunks of SWEEP_CHUNK angles, kept between passes: a stroke or a slider step that comes meanwhile is
    // answered after the chunk under way, and the sweep goes on where it stopped
    const angles = E.angles.slice();
    const same = (w) => w && w.key === key && w.runs === runs && w.angles === angles.join();
    const w = same(E.sweepWork) ? E.sweepWork : { key, runs, angles: angles.join(), probs: {}, next: 0, ms: 0 };
    E.sweepWork = w;
    const chunks = Math.ceil(angles.length / SWEEP_CHUNK);
    while (w.next < models.length * chunks) {
      if (E.dirty || E.key !== key || runsKey() !== runs) return;
      const t1 = now();
      const i = Math.floor(w.next / chunks);
      const lo = (w.next % chunks) * SWEEP_CHUNK;
      const part = angles.slice(lo, lo + SWEEP_CHUNK);
      const out = await infer(ort, sess[i], part.map((a) => turn(digit, a, E.mirror)), ["probabilities"]);
      const id = models[i].id;
      if (!w.probs[id]) w.probs[id] = new Float32Array(angles.length * 10);
      w.probs[id].set(out.probabilities.data, lo * 10);
      w.next += 1;
      w.ms += now() - t1;
    }
    E.sweep = { key, runs, angles, probs: w.probs };
    E.sweepMs = w.ms;
    E.sweepWork = null;
    emit("sweep");
  }
}

// ------------------------------------------------------------------------------------------------ drawing helpers
const SVG = "http://www.w3.org/2000/svg";
function el(tag, attrs = {}, text) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}
const pct = (p) => `${Math.round(p * 100)}%`;
const colour = (mod) => (/^#[0-9a-fA-F]{6}$/.test(mod.color || "") ? mod.color : "#888888");
const argmax = (p, lo = 0) => {
  let k = 0;
  for (let i = 1; i < 10; i++) if (p[lo + i] > p[lo + k]) k = i;
  return k;
};

/** "#12 CNN: 6 (97%) · #14 ...": every run's top class and its probability, the class in bold. */
function answersLine(parent, models, probs) {
  models.forEach((m, i) => {
    const p = probs[m.id];
    if (!p) return;
    if (i) parent.append(" · ");
    parent.append(`${m.label}: `);
    parent.append(el("b", {}, String(argmax(p))));
    parent.append(` (${pct(p[argmax(p)])})`);
  });
}

/** Pixels drawn on a canvas of their own, handed to the page as an <img> (the page's one <canvas> is the drawing). */
function picture(width, height, paint, attrs) {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  paint(img.data);
  ctx.putImageData(img, 0, 0);
  return el("img", { src: canvas.toDataURL("image/png"), width, height, ...attrs });
}

/** A 28 x 28 digit as the models see it: dark ink on white, `scale` screen pixels a pixel. */
function digitImage(digit, scale) {
  const img = picture(
    FRAME,
    FRAME,
    (px) => {
      for (let i = 0; i < N; i++) {
        const v = Math.round(255 * (1 - Math.min(Math.max(digit[i], 0), 1)));
        px.set([v, v, v, 255], 4 * i);
      }
    },
    { class: "gc-digit", alt: "the digit as the models see it" },
  );
  img.style.width = img.style.height = `${FRAME * scale}px`;
  return img;
}

const LABEL_ROW = 0.15;
/** A chart's width in its own units: the width it has on the screen (so its 12-pixel text stays 12 pixels on a
 * phone), within [320, most]; `most` when it is not laid out yet. */
const chartWidth = (width, most) => (width > 0 ? Math.max(320, Math.min(most, Math.round(width))) : most);

/** Grouped bars of every run's probabilities, its winning one labelled on a row of its own above the plot. */
function barsSvg(models, probs, shown) {
  const W = chartWidth(shown, 600);
  const H = 270;
  const m = { l: 44, r: 10, t: 10, b: 40 };
  const top = 1 + LABEL_ROW * models.length + 0.04;
  const x = (c) => m.l + ((c + 0.5) / 10) * (W - m.l - m.r);
  const y = (p) => m.t + (1 - p / top) * (H - m.t - m.b);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "gc-chart", role: "img" });
  svg.append(el("svg:title", {}, "Each run's class probabilities for the turned digit"));
  for (const t of [0, 0.5, 1]) {
    svg.append(el("svg:line", { x1: m.l, x2: W - m.r, y1: y(t), y2: y(t), class: "gc-grid" }));
    svg.append(el("svg:text", { x: m.l - 6, y: y(t) + 4, "text-anchor": "end", class: "gc-tick" }, String(t)));
  }
  const slot = (W - m.l - m.r) / 10;
  const n = models.length;
  const width = (0.8 * slot) / Math.max(n, 1);
  models.forEach((mod, i) => {
    const p = probs[mod.id];
    if (!p) return;
    for (let c = 0; c < 10; c++) {
      const bar = el("svg:rect", {
        x: x(c) - 0.4 * slot + i * width,
        y: y(p[c]),
        width: Math.max(width - 1, 1),
        height: Math.max(y(0) - y(p[c]), 0),
        fill: colour(mod),
      });
      bar.append(el("svg:title", {}, `${mod.label}, class ${c}: ${(p[c] * 100).toFixed(1)}%`));
      svg.append(bar);
    }
    const k = argmax(p);
    const row = 1 + LABEL_ROW * (i + 0.6);
    const bx = x(k) - 0.4 * slot + i * width + width / 2;
    svg.append(el("svg:line", { x1: bx, x2: bx, y1: y(p[k] + 0.01), y2: y(row - 0.06), stroke: colour(mod), class: "gc-lead" }));
    svg.append(
      el("svg:text", { x: bx, y: y(row) + 4, "text-anchor": "middle", style: `fill: ${colour(mod)}`, class: "gc-label" }, pct(p[k])),
    );
  });
  for (let c = 0; c < 10; c++) {
    svg.append(el("svg:text", { x: x(c), y: H - m.b + 16, "text-anchor": "middle", class: "gc-tick" }, String(c)));
  }
  svg.append(el("svg:text", { x: (W + m.l) / 2, y: H - m.b + 32, "text-anchor": "middle", class: "gc-axis" }, "class"));
  return svg;
}

/** The runs' colours and labels, as a line of HTML under a chart (it wraps on a narrow screen). */
function legend(models) {
  const out = el("div", { class: "gc-legend" });
  for (const mod of models) {
    const key = el("span", { class: "gc-key" });
    key.style.background = colour(mod);
    out.append(el("span", { class: "gc-entry" }), " ");
    out.lastChild.previousSibling.append(key, mod.label);
  }
  return out;
}

/** The runs of one answer along the sweep (core.figures.playground.answer_spans). */
function spans(angles, predicted) {
  const out = [];
  angles.forEach((a, i) => {
    const last = out[out.length - 1];
    if (last && last[2] === predicted[i]) {
      last[1] = a;
      last[3] += 1;
    } else out.push([a, a, predicted[i], 1]);
  });
  return out;
}

/** Each run's answer against the angle (core.figures.playground.angle_figure): its confidence as a line, diamonds at
 * the multiples of 90 degrees, its class written on its own row above the plot once per stretch it keeps. */
function angleSvg(models, sweep, shown) {
  const W = chartWidth(shown, 700);
  const H = 330;
  const m = { l: 48, r: 12, t: 10, b: 40 };
  const top = 1 + LABEL_ROW * models.length + 0.04;
  const x = (a) => m.l + ((a + 5) / 370) * (W - m.l - m.r);
  const y = (p) => m.t + (1 - p / top) * (H - m.t - m.b);
  const svg = el("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "gc-chart", role: "img" });
  svg.append(el("svg:title", {}, "Each run's answer at every angle"));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(el("svg:line", { x1: m.l, x2: W - m.r, y1: y(t), y2: y(t), class: "gc-grid" }));
    svg.append(el("svg:text", { x: m.l - 6, y: y(t) + 4, "text-anchor": "end", class: "gc-tick" }, String(t)));
  }
  for (const a of [0, 90, 180, 270]) {
    svg.append(el("svg:line", { x1: x(a), x2: x(a), y1: y(0), y2: y(top), class: "gc-quarter" }));
  }
  for (let a = 0; a <= 360; a += 45) {
    svg.append(el("svg:text", { x: x(a), y: H - m.b + 16, "text-anchor": "middle", class: "gc-tick" }, String(a)));
  }
  svg.append(
    el("svg:text", { x: (W + m.l) / 2, y: H - m.b + 32, "text-anchor": "middle", class: "gc-axis" },
      "angle (degrees, counter-clockwise)"),
  );
  const angles = sweep.angles;
  models.forEach((mod, i) => {
    const p = sweep.probs[mod.id];
    if (!p) return;
    const pred = angles.map((_, k) => argmax(p, 10 * k));
    const conf = angles.map((_, k) => p[10 * k + pred[k]]);
    svg.append(
      el("svg:polyline", {
        points: angles.map((a, k) => `${x(a)},${y(conf[k])}`).join(" "),
        fill: "none",
        stroke: colour(mod),
        "stroke-width": 2,
      }),
    );
    angles.forEach((a, k) => {
      const exact = a % 90 === 0;
      const mark = exact
        ? el("svg:path", {
            d: `M${x(a)},${y(conf[k]) - 6}l6,6l-6,6l-6,-6z`,
            fill: colour(mod),
          })
        : el("svg:circle", { cx: x(a), cy: y(conf[k]), r: 3, fill: colour(mod) });
      mark.append(el("svg:title", {}, `${mod.label}, ${a}°: class ${pred[k]} at ${(conf[k] * 100).toFixed(1)}%`));
      svg.append(mark);
    });
    const row = 1 + LABEL_ROW * (i + 0.6);
    for (const s of spans(angles, pred)) {
      if (s[3] < 2 && angles.length >= 2) continue;
      const label = el(
        "svg:text",
        { x: x((s[0] + s[1]) / 2), y: y(row) + 4, "text-anchor": "middle", style: `fill: ${colour(mod)}`, class: "gc-label" },
        String(s[2]),
      );
      label.append(el("svg:title", {}, `${mod.label}: ${s[2]} from ${s[0]}° to ${s[1]}°`));
      svg.append(label);
    }
  });
  return svg;
}

// matplotlib's viridis, 256 colours as (lut * 255).astype(uint8): RGB hex
const VIRIDIS = (
  "44015444025544035745055845065a45085b46095c460b5e460c5f460e61470f62471163471265471466471567471669" +
  "47186a48196b481a6c481c6e481d6f481e70482071482172482273482374472575472676472777472878472a79472b7a" +
  "472c7b462d7c462f7c46307d46317e45327f45347f453580453681443781443982433a83433b83433c84423d84423e85" +
  "4240854141864142864043874044873f45873f47883e48883e49893d4a893d4b893d4c893c4d8a3c4e8a3b508a3b518a" +
  "3a528b3a538b39548b39558b38568b38578c37588c37598c365a8c365b8c355c8c355d8c345e8d345f8d33608d33618d" +
  "32628d32638d31648d31658d31668d30678d30688d2f698d2f6a8d2e6b8e2e6c8e2e6d8e2d6e8e2d6f8e2c708e2c718e" +
  "2c728e2b738e2b748e2a758e2a768e2a778e29788e29798e287a8e287a8e287b8e277c8e277d8e277e8e267f8e26808e" +
  "26818e25828e25838d24848d24858d24868d23878d23888d23898d22898d228a8d228b8d218c8d218d8c218e8c208f8c" +
  "20908c20918c1f928c1f938b1f948b1f958b1f968b1e978a1e988a1e998a1e998a1e9a891e9b891e9c891e9d881e9e88" +
  "1e9f881ea0871fa1871fa2861fa38620a48520a58521a68521a78422a78423a88323a98224aa8225ab8126ac8127ad80" +
  "28ae7f29af7f2ab07e2bb17d2cb17d2eb27c2fb37b30b47a32b57a33b67935b77836b87738b97639b9763bba753dbb74" +
  "3ebc7340bd7242be7144be7045bf6f47c06e49c16d4bc26c4dc26b4fc36951c46853c56755c66657c66559c7645bc862" +
  "5ec96160c96062ca5f64cb5d67cc5c69cc5b6bcd596dce5870ce5672cf5574d05477d05279d1517cd24f7ed24e81d34c" +
  "83d34b86d44988d5478bd5468dd64490d64392d74195d73f97d83e9ad83c9dd93a9fd938a2da37a5da35a7db33aadb32" +
  "addc30afdc2eb2dd2cb5dd2bb7dd29bade27bdde26bfdf24c2df22c5df21c7e01fcae01ecde01dcfe11cd2e11bd4e11a" +
  "d7e219dae218dce218dfe318e1e318e4e318e7e419e9e419ece41aeee51bf1e51cf3e51ef6e61ff8e621fae622fde724"
);
const LUT = Uint8Array.from(VIRIDIS.match(/../g), (h) => parseInt(h, 16));

/** (C, h, w) maps as one picture (core.figures.playground.maps_tiles): rows of 8 tiles, each map on its own viridis
 * scale, upscaled `scale` times, 2 white pixels apart. */
function mapsImage(layer, count, scale) {
  const { h, w, data } = layer;
  const cols = Math.max(1, Math.min(8, count));
  const rows = Math.ceil(count / cols);
  const gap = 2;
  const th = h * scale;
  const tw = w * scale;
  const W = cols * (tw + gap) - gap;
  const H = rows * (th + gap) - gap;
  const paint = (px) => {
    px.fill(255);
    for (let c = 0; c < count; c++) {
      const base = c * h * w;
      let lo = Infinity;
      let hi = -Infinity;
      for (let i = 0; i < h * w; i++) {
        lo = Math.min(lo, data[base + i]);
        hi = Math.max(hi, data[base + i]);
      }
      const span = hi > lo ? hi - lo : 1;
      const r0 = Math.floor(c / cols) * (th + gap);
      const c0 = (c % cols) * (tw + gap);
      for (let yy = 0; yy < th; yy++) {
        for (let xx = 0; xx < tw; xx++) {
          const v = (data[base + Math.floor(yy / scale) * w + Math.floor(xx / scale)] - lo) / span;
          const k = Math.min(255, Math.max(0, Math.floor(v * 256)));
          const o = 4 * ((r0 + yy) * W + c0 + xx);
          px[o] = LUT[3 * k];
          px[o + 1] = LUT[3 * k + 1];
          px[o + 2] = LUT[3 * k + 2];
        }
      }
    }
  };
  return picture(W, H, paint, { class: "gc-maps", alt: `${layer.name}: feature maps` });
}

// ------------------------------------------------------------------------------------------------ the views
const json = (probs) =>
  JSON.stringify(Object.fromEntries(Object.entries(probs || {}).map(([k, v]) => [k, Array.from(v)])));

/** The probe and the status line: loads the runtime and says whether it runs here (state "runtime" = "ready", or
 * "fallback": why), once each. data.mode is how the page answers now: "browser" (the line says so), "server" (the
 * page says why itself) or "probe" (not known yet: the line says the runtime is loading). */
function statusView(root, first, setStateValue) {
  let data = first;
  let state = "loading";
  let why = "";
  const sent = new Set();
  const line = el("div", { class: "gc-status" });
  root.append(line);
  const send = (key, value) => {
    if (sent.has(key)) return;
    sent.add(key);
    setStateValue(key, value);
  };
  const report = () => {
    const version = data.runtime.version;
    const failed = state === "failed" || E.status === "failed";
    root.dataset.status = failed ? "failed" : state;
    if (data.mode === "browser" && !failed) line.textContent = `Answers computed in your browser (onnxruntime-web ${version}).`;
    else if (data.mode === "probe" && !failed) line.textContent = `Loading the in-browser runtime (onnxruntime-web ${version})…`;
    else line.textContent = "";
    if (failed && data.known !== "server") send("fallback", state === "failed" ? why : E.why);
    else if (state === "ready" && data.known !== "ready") send("runtime", "ready");
  };
  if (!E.spec) E.spec = data.runtime;
  runtime(data.runtime).then(
    () => {
      state = "ready";
      report();
    },
    (err) => {
      state = "failed";
      why = err instanceof Unavailable ? err.message : String(err?.message || err);
      report();
    },
  );
  report();
  const off = subscribe((what) => what === "status" && report());
  return {
    off,
    update(next) {
      data = next;
      report();
    },
  };
}

/** The every-angle plot; reports the digit's answers and its sweep to Python (state "report"). */
function anglesView(root, data, setStateValue) {
  const box = el("div", { class: "gc-angles" });
  const note = el("div", { class: "gc-note" });
  root.append(box, note);
  let reported = "";
  let failed = false;
  const draw = () => {
    const sw = E.sweep;
    if (E.status === "failed") {
      if (!failed) setStateValue("fallback", E.why); // once: the page answers on the server from then on
      failed = true;
      return;
    }
    if (!sw || !fresh(sw) || !E.digit) {
      box.replaceChildren();
      note.textContent = E.digit ? "Answering in your browser…" : "";
      return;
    }
    box.replaceChildren(angleSvg(E.models, sw, box.clientWidth), legend(E.models));
    note.textContent =
      `Every run at ${sw.angles.length} angles (${Math.round(E.sweepMs)} ms in your browser). Between the diamonds ` +
      "the digit is interpolated, which alone changes a steerable net's answer a little; at the diamonds " +
      "(multiples of 90°) the turn is exact.";
    root.dataset.sweep = json(sw.probs);
    root.dataset.key = sw.key;
    if (E.given && fresh(E.given)) {
      const report = {
        key: sw.key,
        mirror: E.mirror,
        runs: E.models.map((m) => m.id),
        given: Object.fromEntries(Object.entries(E.given.probs).map(([k, v]) => [k, Array.from(v)])),
        predicted: Object.fromEntries(
          Object.entries(sw.probs).map(([k, p]) => [k, sw.angles.map((_, i) => argmax(p, 10 * i))]),
        ),
        ms: Math.round(E.ms ?? 0),
      };
      const text = JSON.stringify(report);
      if (text !== reported) {
        reported = text;
        setStateValue("report", report);
      }
    }
  };
  draw();
  return { off: subscribe((what) => (what === "sweep" || what === "status" || what === "answers") && draw()), update: draw };
}

/** The page's rotation slider, found by its label (an <input type="range"> with that aria-label: Streamlit's
 * slider), or null (not drawn: a classroom link fixed the angle). */
function sliderOf(label) {
  for (const input of document.querySelectorAll('input[type="range"]')) {
    if (input.getAttribute("aria-label") === label) return input;
  }
  return null;
}

/** What the models see at the slider's angle, and their bars. The slider is the page's own (Streamlit's, bound to
 * the link's pg_angle): its value is read the moment it changes on the screen (a drag, a key), so the answer comes
 * without waiting for the server, which only keeps the link. Without that slider, the angle Python sends. */
function turnedView(root, first) {
  let data = first;
  const line = el("div", { class: "gc-line" });
  const row = el("div", { class: "gc-row" });
  const pic = el("figure", { class: "gc-pic" });
  const bars = el("div", { class: "gc-bars" });
  row.append(pic, bars);
  root.append(line, row);
  const label = () => data.slider_label || "Rotation (degrees, counter-clockwise)";
  const follow = () => {
    const slider = sliderOf(label());
    const value = slider ? Number(slider.value) : Number(data.angle);
    if (Number.isInteger(value) && value >= 0 && value < 360 && value !== E.angle) setAngle(value, now());
  };
  const watch = new MutationObserver((records) => {
    if (records.some((r) => r.target.getAttribute?.("aria-label") === label())) follow();
  });
  watch.observe(document.body, { subtree: true, attributes: true, attributeFilter: ["aria-valuetext", "value"] });
  const draw = () => {
    root.dataset.angle = String(E.angle);
    const t = E.turned;
    if (!E.digit || !t || !fresh(t)) {
      line.textContent = E.digit ? "Answering in your browser…" : "";
      pic.replaceChildren();
      bars.replaceChildren();
      row.hidden = !E.digit;
      return;
    }
    row.hidden = false;
    line.replaceChildren(`Turned ${t.angle}°${E.mirror ? ", mirrored" : ""}: `);
    answersLine(line, E.models, t.probs);
    pic.replaceChildren(
      digitImage(turn(E.digit, t.angle, E.mirror), 6),
      el("figcaption", {}, `What the models see (${t.angle}°${E.mirror ? ", mirrored" : ""})`),
    );
    bars.replaceChildren(barsSvg(E.models, t.probs, bars.clientWidth), legend(E.models));
    root.dataset.answers = json(t.probs);
    root.dataset.given = json(E.given && fresh(E.given) ? E.given.probs : {});
    root.dataset.key = t.key;
    root.dataset.answerAngle = String(t.angle);
  };
  const timing = () => {
    root.dataset.ms = E.ms.toFixed(1);
    root.dataset.count = String(E.count);
    if (E.turned && fresh(E.turned)) line.append(` — answered in your browser in ${Math.round(E.ms)} ms`);
  };
  follow();
  draw();
  const off = subscribe((what) => (what === "answers" || what === "status" ? draw() : what === "timing" && timing()));
  return {
    off() {
      off();
      watch.disconnect();
    },
    update(next) {
      data = next;
      follow();
      draw();
    },
  };
}

/** The chosen run's layer maps for the digit as turned. */
function mapsView(root) {
  const box = el("div", { class: "gc-layers" });
  root.append(box);
  const draw = () => {
    const mp = E.maps;
    if (!E.digit || !mp || !fresh(mp, { angle: E.angle, inside: E.inside }) || !mp.layers) {
      if (!E.digit) box.replaceChildren();
      return;
    }
    const parts = [];
    for (const layer of mp.layers) {
      const shown = Math.min(layer.c, 16);
      const title = el("div", { class: "gc-layer" });
      title.append(el("b", {}, layer.name), `: ${shown} of ${layer.channels} channels, each on its own scale`);
      parts.push(title, mapsImage(layer, shown, Math.max(1, Math.floor(112 / layer.w))));
      if (layer.note) parts.push(el("div", { class: "gc-note" }, layer.note));
    }
    box.replaceChildren(...parts);
    root.dataset.layers = JSON.stringify(mp.layers.map((l) => [l.name, l.c, l.h, l.w]));
    root.dataset.inside = String(mp.inside);
  };
  draw();
  return { off: subscribe((what) => (what === "maps" || what === "answers") && draw()), update: draw };
}

const VIEWS = { status: statusView, angles: anglesView, turned: turnedView, maps: mapsView };

/** Mount view `data.part` in `parent` (a component's root), or, when it is mounted there already, hand it the new
 * data (a rerun: its DOM stays, so a slider being dragged is not replaced under the pointer). */
export function mountView(parent, data, setStateValue) {
  let root = parent.querySelector(".gc-view");
  if (root && root.gcView && root.dataset.part === data.part) {
    root.gcSet = setStateValue;
    if (data.part !== "status") configure(data);
    root.gcView.update(data);
    return;
  }
  if (root?.gcView) root.gcView.off();
  if (!root) {
    root = el("div", { class: "gc-view" });
    parent.append(root);
  }
  root.replaceChildren();
  root.dataset.part = data.part;
  root.gcSet = setStateValue;
  if (data.part !== "status") configure(data);
  const view = VIEWS[data.part];
  root.gcView = view ? view(root, data, (k, v) => root.gcSet(k, v)) : { off() {}, update() {} };
}

/** The component went: its view stops listening. */
export function unmountView(parent) {
  const root = parent.querySelector(".gc-view");
  if (root?.gcView) root.gcView.off();
  if (root) {
    root.gcView = null;
    root.remove();
  }
}
