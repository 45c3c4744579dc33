// The pool page is rendered by the server; with a connected wallet and no ?account= it reloads
// with the wallet's address so "My share" shows the connected member.
import { onAccount } from "./wallet.js";

const data = JSON.parse(document.getElementById("pool-data").textContent);
onAccount((a) => {
  if (a && !data.account && !new URLSearchParams(location.search).has("account")) {
    const u = new URL(location.href);
    u.searchParams.set("account", a);
    location.replace(u.toString());
  }
});
