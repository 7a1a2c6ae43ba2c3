from django import forms


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label="Your e-mail",
        max_length=254,
        help_text="Your receipt and course access go to this address.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    def __init__(self, *args, fixed_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_email = fixed_email
        if fixed_email:
            # Logged in with a verified address: that address is the buyer, whatever is posted.
            self.fields["email"].initial = fixed_email
            self.fields["email"].disabled = True
            self.fields["email"].help_text = "The verified e-mail of your account."

    def clean_email(self) -> str:
        return (self.fixed_email or self.cleaned_data["email"]).strip().lower()
