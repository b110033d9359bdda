// Passkeys in the browser: the server (webauthn-rs, see routes/passkeys.rs) sends the options
// of `navigator.credentials.create`/`.get` as JSON with binary members in base64url, and
// takes the authenticator's answer back in the same encoding. This module converts both
// ways, exactly as the plain pages' script (/assets/passkey.js) does, and runs the
// ceremonies: options from the server, the browser's prompt, the answer to the server.
import { post } from "./api";

/** base64url (no padding) of bytes. */
export function encode(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The bytes of base64url (padded or not; plain base64 is read too). */
export function decode(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes.buffer;
}

/** A credential descriptor as JSON: its `id` in base64url. */
interface DescriptorJSON {
  id: string;
  type: string;
  transports?: string[];
}

/** `publicKey` of a registration, as the server sends it. */
export interface CreationOptionsJSON {
  challenge: string;
  user: { id: string; name: string; displayName: string };
  excludeCredentials?: DescriptorJSON[];
  [member: string]: unknown;
}

/** `publicKey` of a sign-in, as the server sends it (`mediation` beside, for autofill). */
export interface RequestOptionsJSON {
  challenge: string;
  allowCredentials?: DescriptorJSON[];
  mediation?: CredentialMediationRequirement;
  [member: string]: unknown;
}

/** The first answer of a ceremony: its id and the options. */
export interface Ceremony<T> {
  ceremony: string;
  options: T;
}

const withIds = (list: DescriptorJSON[] | undefined) => (list ?? []).map((item) => ({ ...item, id: decode(item.id) }));

/** What `navigator.credentials.create` takes, from the server's options. */
export function creationOptions(options: CreationOptionsJSON): CredentialCreationOptions {
  return {
    publicKey: {
      ...(options as unknown as PublicKeyCredentialCreationOptions),
      challenge: decode(options.challenge),
      user: { ...options.user, id: decode(options.user.id) },
      excludeCredentials: withIds(options.excludeCredentials) as PublicKeyCredentialDescriptor[],
    },
  };
}

/** What `navigator.credentials.get` takes, from the server's options. */
export function requestOptions(options: RequestOptionsJSON, signal?: AbortSignal): CredentialRequestOptions {
  const { mediation, ...publicKey } = options;
  const request: CredentialRequestOptions = {
    publicKey: {
      ...(publicKey as unknown as PublicKeyCredentialRequestOptions),
      challenge: decode(options.challenge),
      allowCredentials: withIds(options.allowCredentials) as PublicKeyCredentialDescriptor[],
    },
  };
  if (mediation) request.mediation = mediation;
  if (signal) request.signal = signal;
  return request;
}

/** A new credential as the server reads it (`RegisterPublicKeyCredential`). */
export function registrationJSON(credential: PublicKeyCredential) {
  const response = credential.response as AuthenticatorAttestationResponse;
  return {
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: encode(response.attestationObject),
      clientDataJSON: encode(response.clientDataJSON),
      transports: typeof response.getTransports === "function" ? response.getTransports() : undefined,
    },
    extensions: credential.getClientExtensionResults(),
  };
}

/** An assertion as the server reads it (`PublicKeyCredential`). */
export function assertionJSON(credential: PublicKeyCredential) {
  const response = credential.response as AuthenticatorAssertionResponse;
  return {
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: encode(response.authenticatorData),
      clientDataJSON: encode(response.clientDataJSON),
      signature: encode(response.signature),
      userHandle: response.userHandle ? encode(response.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  };
}

/** Whether this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== "undefined" && typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

/** Whether the browser offers passkeys in the address field's autofill. */
export async function autofillSupported(): Promise<boolean> {
  if (!passkeysSupported()) return false;
  const check = (PublicKeyCredential as unknown as { isConditionalMediationAvailable?: () => Promise<boolean> }).isConditionalMediationAvailable;
  if (typeof check !== "function") return false;
  try {
    return await check.call(PublicKeyCredential);
  } catch {
    return false;
  }
}

/** The person dismissed the browser's prompt, or it timed out (not worth an error). */
export function isCancelled(error: unknown): boolean {
  return error instanceof DOMException && (error.name === "NotAllowedError" || error.name === "AbortError");
}

/** Asks the authenticator for an assertion with the server's options. */
async function assert(options: RequestOptionsJSON, signal?: AbortSignal) {
  const credential = (await navigator.credentials.get(requestOptions(options, signal))) as PublicKeyCredential | null;
  if (!credential) throw new DOMException("no passkey was chosen", "NotAllowedError");
  return assertionJSON(credential);
}

/**
 * Signs in with a passkey alone (the credential names its account). With `conditional`, the
 * browser offers the passkeys in the e-mail field's autofill and waits until one is chosen
 * or `signal` aborts. `onChosen` runs once the authenticator answered (before the server
 * checks the answer).
 */
export async function signInWithPasskey(options: { conditional?: boolean; signal?: AbortSignal; onChosen?: () => void } = {}): Promise<void> {
  const start = await post<Ceremony<RequestOptionsJSON>>("/api/auth/passkey/options", options.conditional ? { conditional: true } : {}, options.signal);
  const credential = await assert(start.options, options.signal);
  options.onChosen?.();
  await post("/api/auth/passkey", { ceremony: start.ceremony, credential });
}

/** Finishes a password sign-in with one of the account's passkeys. */
export async function secondFactorPasskey(challenge: string): Promise<void> {
  const start = await post<Ceremony<RequestOptionsJSON>>("/api/auth/login/passkey/options", { challenge });
  const credential = await assert(start.options);
  await post("/api/auth/login/passkey", { challenge, ceremony: start.ceremony, credential });
}

/** Registers a new passkey of the person signed in (their password confirms it). */
export async function registerPasskey<T>(name: string, password: string | undefined): Promise<T> {
  const start = await post<Ceremony<CreationOptionsJSON>>("/api/account/passkeys/options", password === undefined ? { name } : { name, password });
  const credential = (await navigator.credentials.create(creationOptions(start.options))) as PublicKeyCredential | null;
  if (!credential) throw new DOMException("no passkey was made", "NotAllowedError");
  return post<T>("/api/account/passkeys", { ceremony: start.ceremony, credential: registrationJSON(credential) });
}
