// Settlement calendar: every time in the viewer's zone with UTC alongside (the server sends unix times).
import { $$, timeText } from "./common.js";

for (const td of $$("td[data-ts]")) td.textContent = timeText(td.dataset.ts);
