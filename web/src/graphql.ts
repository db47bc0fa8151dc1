// The typed GraphQL client: gql.tada infers each document's result and variables from
// evalql's schema (schema.graphql, written by scripts/build_web.py from the server's own
// Strawberry schema), so a query that names a missing field fails `tsc` at build time.
import { initGraphQLTada } from "gql.tada";
import type { introspection } from "./graphql-env.d.ts";

export const graphql = initGraphQLTada<{
  introspection: introspection;
  disableMasking: true; // fragments are for sharing selections here, not for hiding data
  scalars: {
    UUID: string;
    DateTime: string;
    Decimal: string; // decimal text, kept exact until shown
    JSON: unknown;
    GroupKey: string | number;
  };
}>();

export type { ResultOf, VariablesOf } from "gql.tada";
