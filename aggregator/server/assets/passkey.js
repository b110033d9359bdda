// Passkeys on Hitkeep's plain pages: adding one on the home page, signing in with one on the
// sign-in page (alone, or as the second step after the password). Served from this origin
// only, as the content security policy wants; the dashboard has its own copy of these flows.
(() => {
  'use strict';
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const decode = (text) => {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(text.length / 4) * 4, '=');
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const withIds = (list) => (list || []).map((item) => ({ ...item, id: decode(item.id) }));

  const creationOptions = (options) => ({
    ...options,
    challenge: decode(options.challenge),
    user: { ...options.user, id: decode(options.user.id) },
    excludeCredentials: withIds(options.excludeCredentials),
  });
  const requestOptions = (options) => {
    const { mediation, ...publicKey } = options;
    return {
      mediation,
      publicKey: { ...publicKey, challenge: decode(options.challenge), allowCredentials: withIds(options.allowCredentials) },
    };
  };
  const registration = (credential) => ({
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: encode(credential.response.attestationObject),
      clientDataJSON: encode(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : undefined,
    },
    extensions: credential.getClientExtensionResults(),
  });
  const assertion = (credential) => ({
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      authenticatorData: encode(credential.response.authenticatorData),
      clientDataJSON: encode(credential.response.clientDataJSON),
      signature: encode(credential.response.signature),
      userHandle: credential.response.userHandle ? encode(credential.response.userHandle) : null,
    },
    extensions: credential.getClientExtensionResults(),
  });

  const post = async (path, body) => {
    const response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error ? `${answer.error.message} (${answer.error.code})` : response.statusText);
    return answer;
  };
  const say = (element, message) => {
    if (element) element.textContent = message;
  };
  const reveal = (element) => {
    if (element) element.hidden = false;
  };

  // Home page: add a passkey.
  const add = document.getElementById('passkey-add');
  if (add) {
    reveal(add);
    const status = document.getElementById('passkey-status');
    add.addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = new FormData(add);
      try {
        say(status, 'Waiting for your authenticator…');
        const start = await post('/api/account/passkeys/options', { name: form.get('name'), password: form.get('password') });
        const credential = await navigator.credentials.create({ publicKey: creationOptions(start.options) });
        await post('/api/account/passkeys', { ceremony: start.ceremony, credential: registration(credential) });
        location.reload();
      } catch (error) {
        say(status, `No passkey added: ${error.message}`);
      }
    });
  }

  // Sign-in page: a passkey alone, or as the second step.
  const signIn = document.getElementById('passkey-sign-in');
  if (signIn) {
    reveal(signIn);
    const status = document.getElementById('passkey-status');
    signIn.addEventListener('click', async () => {
      const challenge = signIn.dataset.challenge;
      try {
        say(status, 'Waiting for your authenticator…');
        const start = challenge
          ? await post('/api/auth/login/passkey/options', { challenge })
          : await post('/api/auth/passkey/options', {});
        const credential = await navigator.credentials.get(requestOptions(start.options));
        const body = { ceremony: start.ceremony, credential: assertion(credential) };
        await post(challenge ? '/api/auth/login/passkey' : '/api/auth/passkey', challenge ? { ...body, challenge } : body);
        location.assign('/');
      } catch (error) {
        say(status, `Not signed in: ${error.message}`);
      }
    });
  }
})();
