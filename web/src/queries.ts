// Every document the page sends. Each is checked against the schema by `tsc` (gql.tada)
// and again by the server's test suite (tests/test_web_documents.py).
import { graphql } from "./graphql";

export const LandingQuery = graphql(`
  query Landing {
    viewer { workspaceId readOnly }
    datasets(first: 50) {
      edges {
        node {
          id name description exampleCount sessionCount createdAt
          sessions(first: 20) { edges { node { id name startTime } } }
        }
      }
    }
  }
`);

export const SetupQuery = graphql(`
  query CompareSetup($datasetId: UUID!, $sessionIds: [UUID!]!) {
    viewer { workspaceId readOnly }
    dataset(id: $datasetId) {
      id name description exampleCount
      sessions(first: 100) { edges { node { id name startTime } } }
      exampleMetadataKeys(valuesPerKey: 5) { key count distinctValues }
      runMetadataKeys(sessionIds: $sessionIds, valuesPerKey: 5) { key count distinctValues }
    }
  }
`);

export const ValidateFilterQuery = graphql(`
  query ValidateFilter($filter: String!) {
    validateFilter(filter: $filter) { ok message offset }
  }
`);

// A session against the baseline (server-computed: paired by example, bootstrap interval,
// sign test), shown beside each mean.
export const DeltaFields = graphql(`
  fragment DeltaFields on Delta {
    nPairs meanDelta ciLow ciHigh ciMethod pValue improved regressed unchanged
  }
`);

export const GroupsQuery = graphql(`
  query CompareGroups($datasetId: UUID!, $input: GroupRunsInput!, $next: GroupRunsInput!, $baseline: UUID) {
    next: groupRuns(datasetId: $datasetId, input: $next) { groupKey }
    groupRuns(datasetId: $datasetId, input: $input, baselineSessionId: $baseline) {
      groupKey filter count exampleCount
      sessions {
        session { id name }
        filter runCount exampleCount errorRate
        latencyP50 latencyP99 totalTokens promptTokens completionTokens totalCost
        feedbackStats { key n avg stdev min max errors }
        deltas {
          feedback { key delta { ...DeltaFields } }
          latency { ...DeltaFields }
          errorRate { ...DeltaFields }
          cost { ...DeltaFields }
        }
      }
    }
  }
`, [DeltaFields]);

export const ExamplesQuery = graphql(`
  query CompareExamples($datasetId: UUID!, $input: DatasetRunsInput!) {
    datasetRuns(datasetId: $datasetId, input: $input) {
      example { id inputs outputs metadata }
      runs {
        id status outputs error latency totalTokens totalCost
        session { id }
        feedbacks { key score value comment }
      }
    }
  }
`);

export const GroupsChangedSubscription = graphql(`
  subscription GroupsChanged($datasetId: UUID!, $input: GroupRunsInput!) {
    groupRunsChanged(datasetId: $datasetId, input: $input) { dataVersion }
  }
`);
