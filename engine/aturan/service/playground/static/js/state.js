// The page's whole state as one value: kept in localStorage between visits, and compressed
// into the URL fragment for a share link (deflate-raw, then base64url). A fragment is never
// sent to the server, so nothing an author shares is stored or even seen there.

const STORAGE_KEY = "aturan.playground.state.v1";
const PREFIX = "#s=";
const VERSION = 1;

function toBase64Url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text) {
  const plain = text.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(plain + "=".repeat((4 - (plain.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function through(bytes, stream) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

export async function pack(state) {
  const json = new TextEncoder().encode(JSON.stringify({ v: VERSION, ...state }));
  return toBase64Url(await through(json, new CompressionStream("deflate-raw")));
}

export async function unpack(text) {
  const bytes = await through(fromBase64Url(text), new DecompressionStream("deflate-raw"));
  const state = JSON.parse(new TextDecoder().decode(bytes));
  if (!state || typeof state !== "object" || state.v !== VERSION) throw new Error("not a playground state");
  return state;
}

export async function shareUrl(state) {
  const base = `${location.origin}${location.pathname}`;
  return `${base}${PREFIX}${await pack(state)}`;
}

// the state in the URL fragment, if any (then the fragment is dropped from the address bar:
// later edits live in localStorage, and a reload must not bring the shared state back)
export async function fromFragment() {
  if (!location.hash.startsWith(PREFIX)) return null;
  const state = await unpack(location.hash.slice(PREFIX.length));
  history.replaceState(null, "", location.pathname + location.search);
  return state;
}

export function save(state) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ v: VERSION, ...state }));
  } catch {
    // storage full or disabled: the share link still holds the state
  }
}

export function restore() {
  try {
    const state = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    return state && state.v === VERSION ? state : null;
  } catch {
    return null;
  }
}
