#!/usr/bin/env python3
"""web_driver.py - drives the fleet page in headless Chromium (Selenium, Debian's chromedriver)
for web_test.sh. Readings are encoded by protoc (the test's own encoder) and sent over UDP.

Checks: the page loads with no console errors; the sensor table shows the fleet; a device glob
narrows it; alerts of a probe device appear on screen (the time from the reading sent to its alert
shown is measured, median of several: printed as "alert_to_screen_ms"); the sensor view shows a
chart and the alert history; the rule and severity filters keep a sensor whose other rule
resolved; a device named with markup shows as text and opens no dialog; a
screenshot is saved, and one at a phone's width, where the sensor table must not overflow. With --user/--secure: the page over HTTPS with basic auth (the credentials
go as an Authorization header on every request, as a browser sends them once given).

With --restart FILE (a gateway with limits.max_sse_clients = --sse-clients and recent_alerts below
the page's 50): an alert raised before the page loads shows (from /alerts/recent); with every
stream taken by curl clients the page says "reconnecting" and, once one leaves, gets its stream
back; then the driver asks web_test.sh to restart the gateway (it creates FILE.request and waits
for FILE.done) and checks the page says "gateway restarted" and shows the new gateway's alerts,
whose ids start again. That case skips the console check: the refused stream and the gateway's
absence are logged there by design."""
import argparse
import base64
import fnmatch
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

WAIT_S = 10
PROBE_DEVICE = "probe"
PROBE_SENSOR = 777001  # beyond the fleet's ids (device x 1000 + sensor)
PROBES = 5
RESTART_WAIT_S = 30


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def wait_for(what, check, timeout=WAIT_S, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            fail("timed out waiting for " + what)
        time.sleep(interval)


def encode(proto_dir, device, sequence, sensor, value):
    text = 'device: "%s"\nsequence: %d\nboot_epoch: 1\nreadings { sensor_id: %d value: %s }\n' % (
        device, sequence, sensor, value)
    return subprocess.run(
        ["protoc", "--encode=roda.v1.Batch", "-I", proto_dir,
         os.path.join(proto_dir, "roda.proto")],
        input=text.encode(), capture_output=True, check=True).stdout


class Prober:
    """Probe readings over UDP, with rising sequence numbers."""

    def __init__(self, args):
        self.args = args
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sequence = 0

    def send(self, value):
        self.sequence += 1
        self.sock.sendto(encode(self.args.proto, PROBE_DEVICE, self.sequence, PROBE_SENSOR, value),
                         ("127.0.0.1", self.args.udp_port))

    def fire(self):
        """One firing alert of the probe (a reading above the rule), then back below."""
        self.send(5000)
        self.send(0)


def http_get(url):
    """The status and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=WAIT_S) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def browser(args):
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if args.secure:
        options.accept_insecure_certs = True  # the test's own CA, which Chromium does not know
    service = Service(executable_path="/usr/bin/chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_S)
    driver.set_script_timeout(WAIT_S)
    if args.user:
        token = base64.b64encode(args.user.encode()).decode()
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": "Basic " + token}})
    return driver


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def no_dialog(driver):
    try:
        text = driver.switch_to.alert.text
    except NoAlertPresentException:
        return
    fail("a dialog opened: " + text)


def table_rows(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#sensors tbody tr')].map("
        "r => [r.querySelector('.device').textContent, r.dataset.sensor]);")


def filter_devices(driver, glob):
    box = driver.find_element(By.ID, "f-device")
    box.clear()
    box.send_keys(glob)
    driver.find_element(By.CSS_SELECTOR, "#filter button").click()


def check_fleet(driver, args):
    info = wait_for("the sensor table's page info",
                    lambda: " of " in driver.find_element(By.ID, "page-info").text and
                    driver.find_element(By.ID, "page-info").text)
    total = int(info.split(" of ")[1])
    if total < 120:
        fail("the table counts %d sensors, the fleet has 120: %s" % (total, info))
    rows = table_rows(driver)
    if len(rows) != 50:
        fail("the first page shows %d rows, expected 50" % len(rows))
    filter_devices(driver, "dev1*")
    narrowed = wait_for(
        "the device filter",
        lambda: (lambda r: r if r and all(fnmatch.fnmatchcase(d, "dev1*") for d, _ in r) else None)(
            table_rows(driver)))
    # dev1 and dev10..dev19: 11 devices x 4 sensors.
    wait_for("44 sensors of dev1*",
             lambda: driver.find_element(By.ID, "page-info").text == "1-44 of 44")
    print("filter dev1*: %d rows of %d sensors" % (len(narrowed), total))


def check_rule_filter(driver):
    """udp-dev's sensor 888001 (sent by web_test.sh) fires spike and surge (both warning), then
    surge resolves: a warning filter keeps it, a surge filter leaves it out."""
    def show(rule, severity):
        Select(driver.find_element(By.ID, "f-severity")).select_by_visible_text(
            severity or "any severity")
        box = driver.find_element(By.ID, "f-rule")
        box.clear()
        box.send_keys(rule)
        filter_devices(driver, "udp-dev")
    show("spike", "warning")
    wait_for("udp-dev's sensor under spike and warning",
             lambda: table_rows(driver) == [["udp-dev", "888001"]])
    show("surge", "")
    wait_for("no sensor under surge (resolved)",
             lambda: driver.find_element(By.ID, "page-info").text == "no sensors")
    show("", "")
    print("rule and severity filters: spike/warning keep udp-dev's sensor, surge leaves it out")


def check_markup_device(driver, xss):
    filter_devices(driver, "<img*")
    rows = wait_for("the device with markup in its name",
                    lambda: [r for r in table_rows(driver) if r[0] == xss])
    images = driver.execute_script("return document.querySelectorAll('img').length;")
    if images != 0:
        fail("the page holds %d <img> elements: the name was parsed as markup" % images)
    alert_text = wait_for(
        "the markup device's alert",
        lambda: driver.execute_script(
            "const li = document.querySelector('#alerts li[data-sensor=\"777042\"]');"
            "return li && li.textContent;"))
    if xss not in alert_text:
        fail("the alert does not show the device name as text: " + alert_text)
    no_dialog(driver)
    print("markup device shown as text in %d row(s) and its alert" % len(rows))


def measure_alerts(driver, args):
    """Sends a probe reading above the rule's threshold, then one below; each firing is timed from
    the datagram sent to its list item in the DOM (a MutationObserver stamps Date.now())."""
    driver.execute_script("""
        window.__shown = [];
        new MutationObserver((changes) => {
          for (const c of changes) for (const n of c.addedNodes)
            if (n.dataset && n.dataset.sensor === '%d' && n.classList.contains('firing') &&
                n.classList.contains('critical'))
              window.__shown.push(Date.now());
        }).observe(document.getElementById('alerts'), {childList: true});
    """ % PROBE_SENSOR)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    target = ("127.0.0.1", args.udp_port)
    delays = []
    for i in range(PROBES):
        high = encode(args.proto, PROBE_DEVICE, 2 * i + 1, PROBE_SENSOR, 5000 + i)
        low = encode(args.proto, PROBE_DEVICE, 2 * i + 2, PROBE_SENSOR, 0)
        sent_ms = time.time() * 1000
        sock.sendto(high, target)
        shown = wait_for("probe alert %d on screen" % (i + 1),
                         lambda: driver.execute_script("return window.__shown.length;") > i,
                         interval=0.005)
        assert shown
        delays.append(driver.execute_script("return window.__shown[%d];" % i) - sent_ms)
        sock.sendto(low, target)
        time.sleep(0.3)
    median = statistics.median(delays)
    print("alert_to_screen_ms median=%.0f all=%s" % (median, [round(d) for d in delays]))
    if median > 3000:
        fail("alerts take %.0f ms to show (median)" % median)


def check_sensor_view(driver):
    driver.execute_script(
        "document.querySelector('#alerts li[data-sensor=\"%d\"]').click();" % PROBE_SENSOR)
    wait_for("the sensor view's chart",
             lambda: driver.execute_script(
                 "const p = document.querySelector('#sv-chart polyline');"
                 "return p && p.getAttribute('points').split(' ').length >= 2;"))
    history = wait_for("the sensor view's alert history",
                       lambda: driver.execute_script(
                           "return document.querySelectorAll('#sv-alerts li.firing').length;"))
    title = driver.find_element(By.ID, "sv-title").text
    if PROBE_DEVICE not in title:
        fail("the sensor view is titled " + title)
    print("sensor view: %s, %d firing alerts in its history" % (title, history))


def probe_alerts(driver):
    """The ids of the probe's firing alerts on the page, newest first, and the position of the
    first "gateway restarted" line (-1: none) among the list's items."""
    return driver.execute_script("""
        const items = [...document.querySelectorAll('#alerts li')];
        return [items.filter(li => li.dataset.sensor === '%d' && li.classList.contains('firing'))
                     .map(li => [items.indexOf(li), Number(li.dataset.id)]),
                items.findIndex(li => li.classList.contains('restart'))];""" % PROBE_SENSOR)


def badge(driver):
    return driver.find_element(By.ID, "conn").text


def check_refused_stream(driver, args, prober):
    prober.fire()
    wait_for("the probe's alert in /alerts/recent",
             lambda: b'"state":"firing"' in http_get(args.base + "/alerts/recent")[1])
    holders = [subprocess.Popen(["curl", "-s", "-N", "-o", "/dev/null", args.base + "/alerts"])
               for _ in range(args.sse_clients)]
    try:
        wait_for("every /alerts stream taken",
                 lambda: b"\nroda_sse_clients %d\n" % args.sse_clients in
                 http_get(args.base + "/metrics")[1])
        driver.get(args.base + "/")
        wait_for("the alert raised before the page loaded", lambda: probe_alerts(driver)[0])
        wait_for("the badge saying reconnecting", lambda: badge(driver) == "reconnecting")
        time.sleep(1.5)  # the page's first retries are refused too
        holders[0].terminate()
        holders[0].wait()
        started = time.monotonic()
        wait_for("the stream after a client left", lambda: badge(driver) == "live")
        print("stream back %.1f s after a client left" % (time.monotonic() - started))
    finally:
        for holder in holders:
            holder.terminate()
            holder.wait()


def check_restart(driver, args, prober):
    before = len(probe_alerts(driver)[0])
    prober.fire()
    wait_for("the probe's alert live", lambda: len(probe_alerts(driver)[0]) > before)
    newest = probe_alerts(driver)[0][0][1]
    open(args.restart + ".request", "w").close()
    wait_for("web_test.sh restarting the gateway", lambda: os.path.exists(args.restart + ".done"),
             timeout=RESTART_WAIT_S)
    wait_for("the line saying the gateway restarted", lambda: probe_alerts(driver)[1] >= 0)
    wait_for("the stream of the new gateway", lambda: badge(driver) == "live")
    started = time.monotonic()
    prober.fire()
    # Newer than the restart line, with an id that started again.
    shown = wait_for("the new gateway's alert",
                     lambda: (lambda alerts, line: [a for a in alerts if a[0] < line])(
                         *probe_alerts(driver)))
    if shown[0][1] > newest:
        fail("the new gateway's alert has id %d, the old one's last was %d" % (shown[0][1], newest))
    print("after the restart: alert id %d shown in %.0f ms (the old gateway's last: %d)" % (
        shown[0][1], (time.monotonic() - started) * 1000, newest))


def check_phone(driver, artifacts):
    """At a phone's width (390 x 844 CSS px) the sensor table fits its panel and the page does not
    scroll sideways; a screenshot of the table is saved."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    wait_for("the sensor table at 390 px", lambda: table_rows(driver))
    widths = driver.execute_script("""
        const table = document.getElementById('sensors');
        const panel = document.getElementById('sensors-panel').getBoundingClientRect();
        return {inner: window.innerWidth, page: document.documentElement.scrollWidth,
                table: table.scrollWidth, box: table.clientWidth,
                right: table.getBoundingClientRect().right, panel: panel.right};""")
    if widths["inner"] != 390:
        fail("the phone viewport is %d px wide" % widths["inner"])
    if (widths["page"] > widths["inner"] or widths["table"] > widths["box"] or
            widths["right"] > widths["panel"]):
        fail("the sensor table overflows at 390 px: %s" % widths)
    path = os.path.join(artifacts, "web-phone.png")
    driver.execute_script("document.getElementById('sensors-panel').scrollIntoView();")
    driver.save_screenshot(path)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    print("phone width: the table fits (%s); screenshot: %s" % (widths, path))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--udp-port", type=int, required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--xss")
    parser.add_argument("--user")
    parser.add_argument("--secure", action="store_true")
    parser.add_argument("--restart")
    parser.add_argument("--sse-clients", type=int, default=2)
    args = parser.parse_args()
    driver = browser(args)
    try:
        if args.restart:
            prober = Prober(args)
            check_refused_stream(driver, args, prober)
            check_restart(driver, args, prober)
            driver.save_screenshot(os.path.join(args.artifacts, "web-restart.png"))
            return
        started = time.monotonic()
        driver.get(args.base + "/")
        wait_for("the live alert stream",
                 lambda: driver.find_element(By.ID, "conn").text == "live")
        wait_for("the header's version",
                 lambda: driver.find_element(By.ID, "version").text.startswith("v"))
        print("page live in %.0f ms" % ((time.monotonic() - started) * 1000))
        name = "web-tls.png" if args.secure else "web.png"
        if args.secure:
            wait_for("sensors over TLS", lambda: table_rows(driver))
            measure_alerts(driver, args)
        else:
            check_fleet(driver, args)
            check_rule_filter(driver)
            measure_alerts(driver, args)
            check_sensor_view(driver)
            check_markup_device(driver, args.xss)
            filter_devices(driver, "")
            time.sleep(0.5)
        errors = console_errors(driver)
        if errors:
            fail("console errors: %s" % errors)
        driver.save_screenshot(os.path.join(args.artifacts, name))
        print("screenshot: " + os.path.join(args.artifacts, name))
        if not args.secure:
            check_phone(driver, args.artifacts)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
