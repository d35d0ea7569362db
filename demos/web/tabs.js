// The page's tabs (Photo, Video): buttons with role="tab" that show their panel and hide the
// others. The URL's hash names the open tab (#video), so links and reloads keep it.

/** Wires the role="tab" buttons of `tablist`; onChange(panelId) runs after each switch. */
export function setupTabs(tablist, onChange = () => undefined) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const panelOf = (tab) => document.getElementById(tab.getAttribute('aria-controls'));
  const select = (tab, updateHash) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      panelOf(t).hidden = !on;
    }
    if (updateHash) history.replaceState(null, '', tab === tabs[0] ? location.pathname + location.search : `#${tab.dataset.hash}`);
    onChange(tab.getAttribute('aria-controls'));
  };
  for (const tab of tabs) tab.addEventListener('click', () => select(tab, true));
  // Arrow keys move between tabs, as screen-reader users expect of a tablist.
  tablist.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(document.activeElement);
    if (i < 0 || (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft')) return;
    const next = tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    select(next, true);
  });
  const fromHash = () => select(tabs.find((t) => `#${t.dataset.hash}` === location.hash) ?? tabs[0], false);
  window.addEventListener('hashchange', fromHash);
  fromHash();
  return {
    /** Opens the tab whose data-hash is `hash`. */
    open: (hash) => select(tabs.find((t) => t.dataset.hash === hash) ?? tabs[0], true),
    /** The data-hash of the open tab. */
    get current() {
      return tabs.find((t) => t.getAttribute('aria-selected') === 'true')?.dataset.hash;
    },
  };
}
