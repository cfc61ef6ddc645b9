"""Operations admins launch: async, UI-free; they report through an event sink."""
