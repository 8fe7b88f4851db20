"""Alarm feeds: the `/whisk.system/alarms` feed actions, their schedules and the scheduler that fires them."""
