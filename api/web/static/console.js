// The dispatcher console.
import { account, catchAll, h } from "/static/common.js";

catchAll();
const root = document.getElementById("app");
const user = await account(root, { title: "Dispatcher console", roles: ["dispatcher", "admin"] });
root.replaceChildren(h("h1", {}, `Signed in as ${user.full_name || user.username}`));
