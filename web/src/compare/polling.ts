// How often the page asks again by itself. While an experiment is still running its runs
// and feedback keep arriving: with the live subscription (live.ts) the page asks when the
// server says the answer changed, and polls only slowly, for what the subscription does
// not cover (an edit to an example below the group's first rows); without it, often.
// Only while the tab is visible; a poll that brings the same answer redraws nothing.
export const POLL_MS = 4000;
export const LIVE_POLL_MS = 30000;
