/* The floor for bench/usb-agent.sh: a bare libudev monitor (block subsystem) that appends one line per disk event
 * to a file and does nothing else. */
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: udev-monitor LOG\n"); return 2; }
    struct udev *udev = udev_new();
    struct udev_monitor *monitor = udev_monitor_new_from_netlink(udev, "udev");
    udev_monitor_filter_add_match_subsystem_devtype(monitor, "block", NULL);
    udev_monitor_enable_receiving(monitor);
    FILE *log = fopen(argv[1], "a");
    struct pollfd fd = { .fd = udev_monitor_get_fd(monitor), .events = POLLIN };
    for (;;) {
        if (poll(&fd, 1, -1) <= 0) continue;
        struct udev_device *device;
        while ((device = udev_monitor_receive_device(monitor)) != NULL) {
            const char *type = udev_device_get_devtype(device);
            if (type && strcmp(type, "disk") == 0) { fprintf(log, "EVENT disk %s\n", udev_device_get_action(device)); fflush(log); }
            udev_device_unref(device);
        }
    }
}
