/**
 * Certificates for TLS tests, made with the openssl CLI in a temporary
 * folder: a throwaway certificate authority and a server certificate it
 * signed for 127.0.0.1, plus a second, unrelated authority (a client that
 * trusts only that one must refuse the server).
 */

/** Files and PEM text of one generated set. */
export interface TestCerts {
  /** The folder holding every file. */
  dir: string;
  /** The authority that signed the server certificate (PEM text). */
  ca: string;
  /** An authority that signed nothing here (PEM text). */
  otherCa: string;
  /** Paths for `redis-server --tls-*-file`. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** Why TLS tests cannot run here (no openssl), or `null`. */
export const opensslSkip: string | null = await (async () => {
  try {
    const out = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? null : "openssl does not run";
  } catch {
    return "openssl is not installed (apt-get install -y openssl)";
  }
})();

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")} failed: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
}

/** `openssl req` arguments for a new unencrypted P-256 key. */
const NEW_KEY = [
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:prime256v1",
  "-nodes",
];

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(
    dir,
    "req",
    "-x509",
    ...NEW_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=sup-cache test ${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
}

/** Generate a CA, a server certificate for 127.0.0.1, and another CA. */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "sup-cache-tls-" });
  await makeCa(dir, "ca");
  await makeCa(dir, "other-ca");
  await openssl(
    dir,
    "req",
    ...NEW_KEY,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ].join("\n"),
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  // redis-server runs as this user and reads the key itself.
  return {
    dir,
    ca: await Deno.readTextFile(`${dir}/ca.crt`),
    otherCa: await Deno.readTextFile(`${dir}/other-ca.crt`),
    caFile: `${dir}/ca.crt`,
    certFile: `${dir}/server.crt`,
    keyFile: `${dir}/server.key`,
  };
}
