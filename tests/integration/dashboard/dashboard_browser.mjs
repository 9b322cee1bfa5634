// The dashboard in a real browser: playwright-core driving Debian's chromium, headless (no
// browser is downloaded). Run by dashboard_browser_test.cc against its fixture:
//   node dashboard_browser.mjs
// with DASHBOARD_URL (a replica to open), DASHBOARD_SERVICE_ID (the dashboard's own id), SERVICE_ID, SERVICE_LOCATION, REASON (the claim to
// send from the form), SHOTS (a folder for the screenshots), STAGE (a label for their names),
// LIVE_LEADERS (services that must show a live leader, default 1), EXPECT_REPORT (a pattern the
// manager's report on the claim must match; unset: not checked) and CHROMIUM (default
// /usr/bin/chromium). Also run by tests/e2e/up_browser_test.cc against a real `br2k up`. Exits 0 when every check passes; prints what failed.
// Every wait has a timeout.
import { chromium } from "playwright-core";
import path from "node:path";

const url = process.env.DASHBOARD_URL;
const service = process.env.SERVICE_ID;
const location = process.env.SERVICE_LOCATION || "";
const reason = process.env.REASON;
const shots = process.env.SHOTS;
const stage = process.env.STAGE || "run";
const shot = (name) => path.join(shots, `${stage}-${name}.png`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu"],
});
const errors = [];
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.setDefaultTimeout(30000);
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.on("pageerror", (e) => errors.push("page error: " + e.message));

  // The services page lists the service (live from the chain).
  await page.goto(url + "/#/", { waitUntil: "load" });
  await page.locator("#services").getByText(service, { exact: true }).waitFor();
  // ... and the dashboard itself with its live leader (LIVE_LEADERS: at least that many services
  // shown with a live leader, e.g. 2 against `br2k up`: the log server and the dashboard).
  await page.locator(".live-leader").filter({ hasText: "leads (epoch" }).first().waitFor();
  const wantLeaders = Number(process.env.LIVE_LEADERS || "1");
  await page.waitForFunction(
    (n) => [...document.querySelectorAll(".live-leader")]
      .filter((e) => e.textContent.includes("leads (epoch")).length >= n,
    wantLeaders, { timeout: 30000 });
  await page.screenshot({ path: shot("services"), fullPage: true });

  // A claim from the form, sent by the dashboard's key; the result shows its receipt.
  await page.goto(url + `/#/send?function=sendClaim&service=${service}&location=${encodeURIComponent(location)}`);
  await page.getByLabel("Reason", { exact: true }).fill(reason);
  await page.getByLabel(/the dashboard's key/).check();
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator("#tx-status").filter({ hasText: "success" }).waitFor({ timeout: 60000 });
  const tx = await page.locator("#tx-hash").textContent();
  await page.screenshot({ path: shot("claim-sent"), fullPage: true });

  // A service registered through the form (the dashboard's key becomes its owner) appears in the
  // list under its name.
  const newService = process.env.NEW_SERVICE;
  if (newService) {
    await page.goto(url + "/#/send?function=register");
    await page.getByLabel("Service (name or 0x id)").fill(newService);
    await page.getByLabel("Location (URL)").fill("http://127.0.0.1:9/" + newService);
    await page.getByLabel("Replicas").fill("1");
    await page.getByLabel(/the dashboard's key/).check();
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator("#tx-status").filter({ hasText: "success" }).waitFor({ timeout: 60000 });
    await page.screenshot({ path: shot("registered"), fullPage: true });
    await page.goto(url + "/#/");
    await page.locator("#services").getByRole("link", { name: newService, exact: true }).waitFor({ timeout: 30000 });
  }

  // The claim appears in the service's claims (recorded by the leader's event follower).
  await page.goto(url + `/#/service/${service}`);
  await page.getByRole("cell", { name: reason, exact: true }).waitFor({ timeout: 60000 });
  await page.getByRole("heading", { name: "Replicas (live)" }).waitFor();
  // With a manager running: its signed report on this claim shows in the claim's row (the page
  // updates itself; the manager probes the service first, then reports).
  if (process.env.EXPECT_REPORT) {
    const want = new RegExp(process.env.EXPECT_REPORT);
    await page.locator("tr").filter({ hasText: reason }).locator(".manager-report")
      .filter({ hasText: want }).waitFor({ timeout: 90000 });
  }
  await page.screenshot({ path: shot("service"), fullPage: true });

  // A note through the keyboard: labels lead to the fields.
  await page.getByLabel("Author", { exact: true }).fill("browser-test");
  await page.getByLabel("Note", { exact: true }).fill(`note after ${stage}`);
  await page.getByLabel("Note", { exact: true }).press("Tab");
  await page.getByRole("button", { name: "Add note" }).click();
  await page.getByRole("cell", { name: `note after ${stage}`, exact: true }).waitFor({ timeout: 30000 });

  // The dashboard's own service page: its replicas live, the leader among them.
  if (process.env.DASHBOARD_SERVICE_ID) {
    await page.goto(url + `/#/service/${process.env.DASHBOARD_SERVICE_ID}`);
    await page.getByRole("cell", { name: "Leader", exact: true }).waitFor({ timeout: 30000 });
    await page.screenshot({ path: shot("dashboard-service"), fullPage: true });
  }

  // A phone-width view of the services.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(url + "/#/");
  await page.locator("#services").getByText(service, { exact: true }).waitFor();
  await page.screenshot({ path: shot("services-phone"), fullPage: true });
  console.log(`ok: ${stage}: claim ${tx} sent from the form and listed; screenshots in ${shots}`);
} catch (e) {
  failed = true;
  console.log(`FAILED: ${stage}: ${e.message}`);
}
await browser.close();
if (errors.length) {
  console.log("console errors:\n" + errors.join("\n"));
  failed = true;
}
process.exit(failed ? 1 : 0);
