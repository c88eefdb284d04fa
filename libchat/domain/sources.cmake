list(APPEND CHAT_SOURCES
  domain/ctx.c domain/outbox.c domain/events.c domain/session.c domain/auth.c domain/user.c
  domain/channel.c domain/message.c domain/presence.c domain/file.c domain/consumers.c domain/peers.c
  domain/recent_ids.c domain/message_import.c domain/message_rich.c domain/app.c
  domain/app_events.c domain/app_commands.c domain/app_views.c
  domain/pins.c domain/scheduled.c domain/bookmarks.c
  domain/usergroups.c)
