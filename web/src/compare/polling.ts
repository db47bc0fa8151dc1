// While an experiment is still running its runs and feedback keep arriving: the page asks
// again this often (only while the tab is visible) and redraws only if the answer changed.
export const POLL_MS = 4000;
