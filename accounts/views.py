from allauth.account import views as allauth_views
from allauth.account.adapter import get_adapter

from .forms import EmailTakenMeanwhile


class SignupView(allauth_views.SignupView):
    """Whoever loses a simultaneous sign-up for one address sees the usual "already registered"
    error on the form, as if they had been a moment later."""

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except EmailTakenMeanwhile:
            form.add_error("email", get_adapter().validation_error("email_taken"))
            return self.form_invalid(form)


signup = SignupView.as_view()
