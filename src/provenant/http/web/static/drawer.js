// The Artifact Detail drawer: opens from a row without a reload, keeps focus inside,
// closes on Esc, and keeps the URL shareable (/artifacts/{id}).
//
// This script never writes data into the page as markup. The drawer's HTML comes from
// the server (autoescaped Jinja) and is parsed with DOMParser, which never runs scripts
// or event handlers; messages are set with textContent.
(function () {
  "use strict";

  const host = document.getElementById("drawer-host");
  const page = document.getElementById("page");
  const toast = document.getElementById("toast");
  const DRAWER_PATH = /^\/artifacts\/(\d+)$/;
  const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), ' +
    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  let opener = null;  // the list link that opened the drawer; focus returns to it
  let loading = 0;    // the newest request wins when rows are clicked quickly

  function drawer() {
    return host.querySelector(".drawer");
  }

  function isOpen() {
    return !host.hidden && drawer() !== null;
  }

  function say(message) {
    toast.textContent = message;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { toast.textContent = ""; }, 4000);
  }

  function activate() {
    host.hidden = false;
    page.inert = true;  // the page behind the dialog can be neither clicked nor focused
    document.body.classList.add("drawer-open");
    drawer().focus();
    // Its tables (tables.js) sort and page themselves once the drawer is in the page.
    drawer().dispatchEvent(new CustomEvent("drawer:shown", { bubbles: true }));
  }

  function place(section) {
    const current = drawer();
    if (current) {
      current.replaceWith(section);
    } else {
      host.append(section);
    }
    activate();
  }

  async function open(url, push) {
    const ticket = ++loading;
    let response;
    try {
      response = await fetch(url.pathname + "/drawer" + url.search,
                             { headers: { Accept: "text/html" } });
    } catch (error) {
      say("The artifact could not be loaded: the server did not answer.");
      return;
    }
    if (ticket !== loading) {
      return;
    }
    if (!response.ok) {
      say("The artifact could not be loaded (HTTP " + response.status + ").");
      return;
    }
    const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
    const section = parsed.querySelector(".drawer");
    if (ticket !== loading || section === null) {
      return;
    }
    place(document.adoptNode(section));
    if (push) {
      history.pushState({ drawer: true }, "", url.pathname + url.search);
    }
  }

  function close(push) {
    const current = drawer();
    if (current === null) {
      return;
    }
    loading++;
    const id = current.dataset.artifactId;
    current.remove();
    host.hidden = true;
    page.inert = false;
    document.body.classList.remove("drawer-open");
    if (push) {
      history.pushState({}, "", "/artifacts" + location.search);
    }
    const row = page.querySelector('a[data-drawer][data-artifact-id="' + CSS.escape(id) + '"]');
    const target = (opener && opener.isConnected) ? opener : (row || document.getElementById("main-heading"));
    opener = null;
    target.focus();
  }

  async function copy(button) {
    try {
      await navigator.clipboard.writeText(button.dataset.copy);
      say("Copied the " + button.dataset.copyLabel + ".");
    } catch (error) {
      say("The browser did not allow copying; select the text instead.");
    }
  }

  function plainClick(event) {
    return event.button === 0 && !(event.metaKey || event.ctrlKey || event.shiftKey || event.altKey);
  }

  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || !plainClick(event)) {
      return;
    }
    const target = event.target;
    if (target.closest("[data-close]") && isOpen()) {
      event.preventDefault();
      close(true);
      return;
    }
    const copyButton = target.closest("button[data-copy]");
    if (copyButton) {
      copy(copyButton);
      return;
    }
    const link = target.closest("a[data-drawer]");
    if (link) {
      event.preventDefault();
      if (!host.contains(link)) {
        opener = link;
      }
      open(new URL(link.href), true);
      return;
    }
    const row = target.closest("tr[data-row]");
    if (row && !target.closest("a, button, input, select, label")) {
      row.querySelector("a[data-drawer]").click();  // the whole row opens the drawer
    }
  });

  document.addEventListener("keydown", (event) => {
    if (!isOpen()) {
      return;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      close(true);
      return;
    }
    if (event.key !== "Tab") {
      return;
    }
    const dialog = drawer();
    const items = Array.from(dialog.querySelectorAll(FOCUSABLE))
      .filter((el) => el.getClientRects().length > 0);
    if (items.length === 0) {
      event.preventDefault();
      dialog.focus();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    const outside = !dialog.contains(active);
    if (event.shiftKey && (outside || active === first || active === dialog)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (outside || active === last)) {
      event.preventDefault();
      first.focus();
    }
  });

  window.addEventListener("popstate", () => {
    if (DRAWER_PATH.test(location.pathname)) {
      open(new URL(location.href), false);
    } else {
      close(false);
    }
  });

  if (drawer() !== null) {  // served as /artifacts/{id}: the drawer is already there
    activate();
  }
})();
