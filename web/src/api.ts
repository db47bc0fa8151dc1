// One POST per document to the server's own /graphql (same origin: nothing leaves it).
// The API key is asked for once and kept in this browser, as GraphiQL keeps its headers.
import { print } from "@0no-co/graphql.web";
import type { TadaDocumentNode } from "gql.tada";

const KEY_STORAGE = "evalql:apiKey";

export function storedKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null; // storage refused (private mode): ask again each visit
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* kept for this page only */
  }
}

export class ApiError extends Error {
  constructor(message: string, readonly code: string | null = null) {
    super(message);
  }
  get unauthenticated(): boolean {
    return this.code === "UNAUTHENTICATED" || this.code === "FORBIDDEN";
  }
}

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

const printed = new WeakMap<object, string>();

export async function request<Result, Variables>(
  document: TadaDocumentNode<Result, Variables>,
  variables: Variables,
  signal?: AbortSignal,
): Promise<Result> {
  let query = printed.get(document);
  if (query === undefined) printed.set(document, (query = print(document)));
  const key = storedKey();
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (key) headers["x-api-key"] = key;
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
    signal,
  });
  let body: { data?: Result; errors?: GraphQLError[]; detail?: unknown } | null = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401 || response.status === 403) {
    throw new ApiError(detailOf(body) ?? "The API key was refused", "UNAUTHENTICATED");
  }
  if (body?.errors?.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "), body.errors[0].extensions?.code ?? null);
  }
  if (!response.ok || body?.data == null) {
    throw new ApiError(detailOf(body) ?? `The server answered ${response.status}`);
  }
  return body.data;
}

function detailOf(body: { detail?: unknown } | null): string | null {
  if (body && typeof body.detail === "string") return body.detail;
  return null;
}
